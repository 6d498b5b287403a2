-- Faces an organiser added by drawing a box where the detector found none (issue 16).
--
-- `origin` says where a face came from: 'detected' (the detection service, on the whole image)
-- or 'user' (face-person-actions `add_face`: the detector run again on the box, at a lower
-- threshold). A user-placed face is kept where the organiser put it (assignment 'user', so
-- re-clustering pins it) and is never taken for a detection of the next run.
alter table public.faces
  add column if not exists origin text not null default 'detected' check (origin in ('detected', 'user'));

-- Members read every face column but the embedding (20261129003100): a new column needs its grant.
grant select (origin) on table public.faces to authenticated;
