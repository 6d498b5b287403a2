-- A user who erased their face data in an event is not linked to a person again.
--
-- The purge removes the persons linked to the user, but their later photos are still
-- detected and clustered (into unlinked persons, since nothing of the old person is left to
-- match). What must not happen is an organiser linking such a person to them again, which
-- would re-create exactly the data they erased. So every user purge records an opt-out, and
-- `assign` refuses to link an opted-out user (409 user_opted_out) until the user opts back in
-- themself (face-person-actions `opt_in`).

create table if not exists public.face_recognition_opt_outs (
  event_id uuid not null references public.events (id) on delete cascade,
  user_id uuid not null,
  created_at timestamptz not null default now(),
  primary key (event_id, user_id)
);

alter table public.face_recognition_opt_outs enable row level security;
drop policy if exists face_opt_outs_read on public.face_recognition_opt_outs;
create policy face_opt_outs_read on public.face_recognition_opt_outs for select to authenticated
  using (user_id = auth.uid() or public.is_event_organiser(event_id));

-- Recorded by the purge log rather than inside purge_face_data_for_user, so the purge function
-- stays as it was migrated and every user purge, however it is called, leaves an opt-out.
create or replace function public.record_face_opt_out() returns trigger
language plpgsql security definer set search_path = public, pg_temp
as $$
begin
  insert into public.face_recognition_opt_outs (event_id, user_id)
  values (new.event_id, new.user_id)
  on conflict do nothing;
  return new;
end
$$;

drop trigger if exists face_purge_log_records_opt_out on public.face_purge_log;
create trigger face_purge_log_records_opt_out
  after insert on public.face_purge_log
  for each row when (new.scope = 'user')
  execute function public.record_face_opt_out();
