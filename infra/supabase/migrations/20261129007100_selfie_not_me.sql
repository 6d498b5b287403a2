-- Selfie search (issue 14): a member who says "not me" to a person is never offered that
-- person again. The selfie itself is never stored anywhere; this table holds only ids.
--
-- "This is me" needs no table: it is the existing link (face_persons.linked_user_id), made by
-- the member for themself under the same rules (may_be_recognised, opt-outs), undone by an
-- organiser's unassign, and removed by the member's purge with the persons linked to them.
--
-- The person reference carries the event (composite key, like every face reference since
-- 20261129003200): a "not me" can never point at another event's person. A deleted person
-- (purge, recluster) takes its "not me" rows with it.

create table if not exists public.face_person_not_me (
  event_id uuid not null,
  person_id uuid not null,
  user_id uuid not null,
  created_at timestamptz not null default now(),
  primary key (person_id, user_id),
  foreign key (event_id, person_id) references public.face_persons (event_id, id) on delete cascade
);
create index if not exists idx_face_person_not_me_user on public.face_person_not_me (event_id, user_id);

-- Members read their own verdicts; organisers read none (a member's "not me" is theirs).
-- Writes go through face-person-actions (the backend); the API roles write nothing.
alter table public.face_person_not_me enable row level security;
drop policy if exists face_person_not_me_own_read on public.face_person_not_me;
create policy face_person_not_me_own_read on public.face_person_not_me for select to authenticated
  using (user_id = (select auth.uid()));
revoke all on table public.face_person_not_me from anon, authenticated;
grant select on table public.face_person_not_me to authenticated;

-- The member's purge removes their "not me" records too (GDPR: nothing about them is kept
-- but the purge log). Hooked on the purge log like the opt-out (20261124003000), so every
-- user purge, however it is called, forgets them.
create or replace function public.forget_not_me_on_purge() returns trigger
language plpgsql security definer set search_path = public, pg_temp
as $$
begin
  delete from public.face_person_not_me n where n.event_id = new.event_id and n.user_id = new.user_id;
  return new;
end
$$;
revoke execute on function public.forget_not_me_on_purge() from public, anon, authenticated;

drop trigger if exists face_purge_log_forgets_not_me on public.face_purge_log;
create trigger face_purge_log_forgets_not_me
  after insert on public.face_purge_log
  for each row when (new.scope = 'user')
  execute function public.forget_not_me_on_purge();
