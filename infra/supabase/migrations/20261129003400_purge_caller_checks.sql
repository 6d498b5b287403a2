-- The purge functions authorise the session's real role and auth.uid(), not the claims'
-- `role` (issue 13).
--
-- They run SECURITY DEFINER (they delete rows the caller may not), so they must decide who
-- called. The old check let through any call whose claims had no `sub` or said
-- "role": "service_role": claims are whatever the request carried, and `authenticated` with
-- such claims purged another event's data. Now a call passes when:
--   * the session acts as the backend (public.session_is_backend: service_role, the owner,
--     a role bypassing RLS), which could delete these rows directly anyway; or
--   * it acts as `authenticated` with a subject (auth.uid()), and that subject is the user
--     whose data goes (user purge) or an organiser of the event.
-- Anything else, a missing subject included, is refused (42501).

create or replace function public.assert_may_purge(p_event_id uuid, p_user_id uuid) returns void
language plpgsql stable security definer set search_path = public, pg_temp
as $$
begin
  if public.session_is_backend() then
    return;
  end if;
  if public.session_role() = 'authenticated' and auth.uid() is not null
     and (auth.uid() = p_user_id or public.is_event_organiser(p_event_id)) then
    return;
  end if;
  if p_user_id is null then
    raise exception 'only an organiser may purge the face data of an event' using errcode = '42501';
  end if;
  raise exception 'not allowed to purge face data of this user in this event' using errcode = '42501';
end
$$;

-- As in 20261124000300, with the check above (p_user_id null: the whole event).
create or replace function public.purge_face_data_for_event(event_id uuid)
returns jsonb
language plpgsql volatile security definer set search_path = public, pg_temp
as $$
declare
  v_faces integer;
  v_persons integer;
  v_tags integer;
begin
  perform public.assert_may_purge(purge_face_data_for_event.event_id, null);

  delete from public.media_tags t
  where t.event_id = purge_face_data_for_event.event_id and t.source = 'face';
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

revoke execute on function public.purge_face_data_for_user(uuid, uuid), public.purge_face_data_for_event(uuid)
  from public, anon;
grant execute on function public.purge_face_data_for_user(uuid, uuid), public.purge_face_data_for_event(uuid)
  to authenticated, service_role;
