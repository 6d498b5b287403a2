-- Face recognition links only people who may be recognised in the event: members (the owner
-- included) who have not opted out (issue 13).
--
-- face-person-actions checks both before `assign` (400 not a member, 409 user_opted_out), but
-- the database accepted a direct `update face_persons set linked_user_id = ...` or face-tag
-- insert for anyone. The rule now lives here, once: public.may_be_recognised. Constraint
-- triggers enforce it on new links and new face tags, and shared/db/face_tags.py derives face
-- tags only for such users, so a member who leaves the event or opts out loses face tags
-- instead of making every later tag sync fail. Existing links are not re-checked: the purge
-- of an opted-out user already removed theirs.
--
-- AFTER triggers, so that they run after row-level security has accepted the row: a stranger
-- learns nothing about another event's members from the error.

create or replace function public.may_be_recognised(p_event_id uuid, p_user_id uuid) returns boolean
language sql stable set search_path = public, pg_temp
as $$
  select (exists (select 1 from public.event_members m where m.event_id = p_event_id and m.user_id = p_user_id)
          or exists (select 1 from public.events e where e.id = p_event_id and e.owner_id = p_user_id))
     and not exists (select 1 from public.face_recognition_opt_outs o
                      where o.event_id = p_event_id and o.user_id = p_user_id)
$$;

-- tg_argv[0] names the user column. Only a new subject is checked: an update that keeps the
-- user, event and source (a merge target keeping its link, a tag changing person) passes.
create or replace function public.check_recognition_subject() returns trigger
language plpgsql security definer set search_path = public, pg_temp
as $$
declare
  v_new jsonb := to_jsonb(new);
  v_old jsonb := case when tg_op = 'UPDATE' then to_jsonb(old) end;
  v_user uuid := (v_new ->> tg_argv[0])::uuid;
begin
  if v_old is not null
     and jsonb_build_array(v_old -> tg_argv[0], v_old -> 'event_id', v_old -> 'source')
       = jsonb_build_array(v_new -> tg_argv[0], v_new -> 'event_id', v_new -> 'source') then
    return null;
  end if;
  if not public.may_be_recognised(new.event_id, v_user) then
    raise exception 'user % is not a member of event % or has opted out of face recognition there',
                    v_user, new.event_id
      using errcode = 'check_violation', constraint = tg_name, table = tg_table_name;
  end if;
  return null;
end
$$;

revoke execute on function public.may_be_recognised(uuid, uuid), public.check_recognition_subject()
  from public, anon, authenticated;

drop trigger if exists face_persons_link_recognisable on public.face_persons;
create constraint trigger face_persons_link_recognisable
  after insert or update of linked_user_id, event_id on public.face_persons
  for each row when (new.linked_user_id is not null)
  execute function public.check_recognition_subject('linked_user_id');

drop trigger if exists media_tags_face_tag_recognisable on public.media_tags;
create constraint trigger media_tags_face_tag_recognisable
  after insert or update of user_id, source, event_id on public.media_tags
  for each row when (new.source = 'face')
  execute function public.check_recognition_subject('user_id');
