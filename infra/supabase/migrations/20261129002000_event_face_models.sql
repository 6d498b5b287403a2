-- The model pack each event's face data belongs to, and re-embedding jobs.
--
-- Embeddings of different packs cannot be compared, so an event must never mix them. Until
-- now the pack was implicit (every writer used MODEL_PACK): switching MODEL_PACK on a live
-- system would have stored new faces of another model next to the old ones, and persons,
-- incremental assignment and clustering would each have seen half of the event. The event's
-- pack is now recorded here when its first faces are stored; every later analysis,
-- assignment and clustering of the event uses it, whatever MODEL_PACK says, until an
-- operator re-embeds the event (`facecluster reembed`), which moves the row to the new pack
-- in the same transaction that replaces the faces.

create table if not exists public.event_face_models (
  event_id uuid primary key references public.events (id) on delete cascade,
  model text not null,
  pinned_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

-- Members may read which pack their event is on; only the backend writes it (Supabase grants
-- every privilege on a new table to the API roles, and RLS alone would leave anon its grant).
revoke all on table public.event_face_models from anon, authenticated;
grant select on table public.event_face_models to authenticated;
alter table public.event_face_models enable row level security;
drop policy if exists event_face_models_member_read on public.event_face_models;
create policy event_face_models_member_read on public.event_face_models for select to authenticated
  using (public.is_event_member(event_id));

-- Events analysed before this migration: the pack of most of their faces (an event that
-- already mixes packs is listed by the query in the README's operator section and is made
-- whole by re-embedding it).
insert into public.event_face_models (event_id, model)
select distinct on (event_id) event_id, model
  from (select event_id, model, count(*) as faces from public.faces group by event_id, model) counted
 order by event_id, faces desc, model
on conflict (event_id) do nothing;

-- A re-embedding is a job like clustering: one row per run, with a lease.
alter table public.ml_jobs drop constraint if exists ml_jobs_job_type_check;
alter table public.ml_jobs add constraint ml_jobs_job_type_check
  check (job_type in ('detect', 'cluster', 'reembed'));

-- Clustering and re-embedding both rewrite an event's persons: at most one of them is in
-- flight per event. ml-enqueue and ml-callback insert clustering rows with `on conflict do
-- nothing`, so while a re-embedding runs they start no clustering, and a re-embedding finds
-- a running clustering here and refuses.
create unique index if not exists uq_ml_jobs_event_rewrite_in_flight on public.ml_jobs (event_id)
  where job_type in ('cluster', 'reembed') and status in ('pending', 'processing');
