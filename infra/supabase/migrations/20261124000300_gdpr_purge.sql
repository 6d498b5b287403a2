-- GDPR: erase face data, and keep a record that it was erased.
--
-- purge_face_data_for_user(user, event) removes, in that event only: the faces of persons
-- linked to the user (persons merged into them included), those persons, and the
-- face-sourced tags of the user. Manual tags, other users' data and other events are left
-- alone. Running it again removes nothing more; every call is logged in face_purge_log,
-- which is kept (it holds ids and counts, no biometric data).
--
-- purge_face_data_for_event(event) removes all face data of an event; it is what turning
-- face recognition off does.

create table if not exists public.face_purge_log (
  id bigint generated always as identity primary key,
  scope text not null check (scope in ('user', 'event')),
  event_id uuid not null,
  user_id uuid,
  requested_by uuid,
  faces_deleted integer not null,
  persons_deleted integer not null,
  tags_deleted integer not null,
  purged_at timestamptz not null default now()
);
create index if not exists idx_face_purge_log_event on public.face_purge_log (event_id, purged_at);

alter table public.face_purge_log enable row level security;
drop policy if exists face_purge_log_read on public.face_purge_log;
create policy face_purge_log_read on public.face_purge_log for select to authenticated
  using (user_id = auth.uid() or public.is_event_organiser(event_id));

-- Who may purge: the user themself or an organiser of the event; the backend (database
-- owner / service role, which have no JWT subject) always may. Checked inside the function
-- because SECURITY DEFINER functions are callable over the API.
create or replace function public.assert_may_purge(p_event_id uuid, p_user_id uuid) returns void
language plpgsql stable security definer set search_path = public, pg_temp
as $$
begin
  if auth.uid() is null and coalesce(auth.role(), 'service_role') = 'service_role' then
    return;  -- backend connection (no end-user JWT) or the service role
  end if;
  if auth.uid() is not null
     and (auth.uid() = p_user_id or public.is_event_organiser(p_event_id)) then
    return;
  end if;
  raise exception 'not allowed to purge face data of this user in this event'
    using errcode = '42501';
end
$$;

create or replace function public.purge_face_data_for_user(user_id uuid, event_id uuid)
returns jsonb
language plpgsql volatile security definer set search_path = public, pg_temp
as $$
declare
  v_person_ids uuid[];
  v_faces integer;
  v_persons integer;
  v_tags integer;
begin
  perform public.assert_may_purge(purge_face_data_for_user.event_id, purge_face_data_for_user.user_id);

  -- Persons linked to the user, and persons merged into them (their faces moved on merge,
  -- but the rows still point at the user's person).
  with recursive linked as (
    select p.id from public.face_persons p
    where p.event_id = purge_face_data_for_user.event_id
      and p.linked_user_id = purge_face_data_for_user.user_id
    union
    select p.id from public.face_persons p join linked l on p.merged_into = l.id
  )
  select coalesce(array_agg(id), '{}') into v_person_ids from linked;

  delete from public.media_tags t
  using public.media m
  where t.media_id = m.id
    and m.event_id = purge_face_data_for_user.event_id
    and t.user_id = purge_face_data_for_user.user_id
    and t.source = 'face';
  get diagnostics v_tags = row_count;

  delete from public.faces f where f.person_id = any (v_person_ids);
  get diagnostics v_faces = row_count;

  update public.face_persons set merged_into = null, status = 'active'
  where merged_into = any (v_person_ids) and not (id = any (v_person_ids));
  delete from public.face_persons p where p.id = any (v_person_ids);
  get diagnostics v_persons = row_count;

  insert into public.face_purge_log (scope, event_id, user_id, requested_by,
                                     faces_deleted, persons_deleted, tags_deleted)
  values ('user', purge_face_data_for_user.event_id, purge_face_data_for_user.user_id, auth.uid(),
          v_faces, v_persons, v_tags);

  return jsonb_build_object('faces_deleted', v_faces, 'persons_deleted', v_persons,
                            'tags_deleted', v_tags);
end
$$;

create or replace function public.purge_face_data_for_event(event_id uuid)
returns jsonb
language plpgsql volatile security definer set search_path = public, pg_temp
as $$
declare
  v_faces integer;
  v_persons integer;
  v_tags integer;
begin
  if auth.uid() is not null and not public.is_event_organiser(purge_face_data_for_event.event_id) then
    raise exception 'only an organiser may purge the face data of an event' using errcode = '42501';
  end if;

  delete from public.media_tags t
  using public.media m
  where t.media_id = m.id and m.event_id = purge_face_data_for_event.event_id and t.source = 'face';
  get diagnostics v_tags = row_count;

  delete from public.faces f where f.event_id = purge_face_data_for_event.event_id;
  get diagnostics v_faces = row_count;

  delete from public.face_persons p where p.event_id = purge_face_data_for_event.event_id;
  get diagnostics v_persons = row_count;

  delete from public.media_analyses a where a.event_id = purge_face_data_for_event.event_id;

  insert into public.face_purge_log (scope, event_id, user_id, requested_by,
                                     faces_deleted, persons_deleted, tags_deleted)
  values ('event', purge_face_data_for_event.event_id, null, auth.uid(), v_faces, v_persons, v_tags);

  return jsonb_build_object('faces_deleted', v_faces, 'persons_deleted', v_persons,
                            'tags_deleted', v_tags);
end
$$;

-- Functions are executable by PUBLIC by default; only signed-in users and the backend may call these.
revoke execute on function public.purge_face_data_for_user(uuid, uuid) from public, anon;
revoke execute on function public.purge_face_data_for_event(uuid) from public, anon;
grant execute on function public.purge_face_data_for_user(uuid, uuid) to authenticated, service_role;
grant execute on function public.purge_face_data_for_event(uuid) to authenticated, service_role;
