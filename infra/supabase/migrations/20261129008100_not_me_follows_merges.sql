-- A member's "not me" follows the faces they rejected (issue 14, follow-up).
--
-- From now on a merge hands the merged person's "not me" rows to the person it went into
-- (shared/db/person_actions.py merge): that person holds the rejected faces, and offering it
-- would offer them again. Merges made before this migration left the rows on the merged
-- person, where selfie search never looks: copy them to the person each merged person now
-- points at (merge chains are one step long, see merge).
--
-- Re-clustering keeps such persons (user-owned, shared/db/clustering_store.py load_persons),
-- so the cascade of 20261129007100 only removes a "not me" with a purged person.

insert into public.face_person_not_me (event_id, person_id, user_id, created_at)
select n.event_id, p.merged_into, n.user_id, n.created_at
  from public.face_person_not_me n
  join public.face_persons p on p.event_id = n.event_id and p.id = n.person_id
 where p.status = 'merged' and p.merged_into is not null
on conflict do nothing;
