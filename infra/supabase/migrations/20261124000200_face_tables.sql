-- Face recognition tables: jobs, persons, faces, per-media analysis state, tags.
-- Each table's row-level security policies stand right after it.
--
-- Who may see what (RLS): members of an event read that event's rows, organisers (and the
-- event owner) change them, nobody else sees anything. The backend connects with the service
-- role (or the database owner), which bypasses RLS.

-- Membership checks used by every policy. SECURITY DEFINER so that a policy on one table does
-- not depend on the caller's right to read event_members (which would recurse through its
-- own policies); search_path is pinned so the definer rights cannot be hijacked.
create or replace function public.is_event_member(p_event_id uuid) returns boolean
language sql stable security definer set search_path = public, pg_temp
as $$
  select exists (select 1 from public.event_members m
                 where m.event_id = p_event_id and m.user_id = auth.uid())
      or exists (select 1 from public.events e
                 where e.id = p_event_id and e.owner_id = auth.uid())
$$;

create or replace function public.is_event_organiser(p_event_id uuid) returns boolean
language sql stable security definer set search_path = public, pg_temp
as $$
  select exists (select 1 from public.event_members m
                 where m.event_id = p_event_id and m.user_id = auth.uid()
                   and m.role = 'organiser')
      or exists (select 1 from public.events e
                 where e.id = p_event_id and e.owner_id = auth.uid())
$$;

-- ml_jobs ------------------------------------------------------------------------------
-- One row per unit of work: `detect` (one media) or `cluster` (one event).
-- Leases: a worker sets status = 'processing' and lease_expires_at; a job whose lease has
-- expired is claimable again (worker killed mid-image). attempts counts claims; after
-- max_attempts the job is failed for good.
create table if not exists public.ml_jobs (
  id uuid primary key default gen_random_uuid(),
  job_type text not null check (job_type in ('detect', 'cluster')),
  event_id uuid not null references public.events (id) on delete cascade,
  media_id uuid references public.media (id) on delete cascade,
  status text not null default 'pending'
    check (status in ('pending', 'processing', 'completed', 'failed')),
  -- 0 = low, 1 = normal, 2 = high (the API takes the names).
  priority smallint not null default 1 check (priority between 0 and 2),
  model text,
  attempts integer not null default 0,
  max_attempts integer not null default 5 check (max_attempts > 0),
  lease_expires_at timestamptz,
  locked_by text,
  error text,
  result jsonb,
  created_at timestamptz not null default now(),
  started_at timestamptz,
  completed_at timestamptz,
  updated_at timestamptz not null default now(),
  check ((job_type = 'detect') = (media_id is not null))
);
-- A repeated enqueue while work is in flight must not duplicate it, and only one
-- clustering run per event may be in flight.
create unique index if not exists uq_ml_jobs_detect_in_flight on public.ml_jobs (media_id, model)
  where job_type = 'detect' and status in ('pending', 'processing');
create unique index if not exists uq_ml_jobs_cluster_in_flight on public.ml_jobs (event_id)
  where job_type = 'cluster' and status in ('pending', 'processing');
create index if not exists idx_ml_jobs_event_status on public.ml_jobs (event_id, job_type, status);
create index if not exists idx_ml_jobs_lease on public.ml_jobs (lease_expires_at)
  where status = 'processing';

alter table public.ml_jobs enable row level security;
drop policy if exists ml_jobs_member_read on public.ml_jobs;
create policy ml_jobs_member_read on public.ml_jobs for select to authenticated
  using (public.is_event_member(event_id));
drop policy if exists ml_jobs_organiser_write on public.ml_jobs;
create policy ml_jobs_organiser_write on public.ml_jobs for all to authenticated
  using (public.is_event_organiser(event_id)) with check (public.is_event_organiser(event_id));

-- face_persons ---------------------------------------------------------------------------
-- A person is a cluster of faces within one event and one embedding model. Persons that a
-- user linked, named or merged into are "user-owned": re-clustering keeps their id.
create table if not exists public.face_persons (
  id uuid primary key default gen_random_uuid(),
  event_id uuid not null references public.events (id) on delete cascade,
  model text not null,
  status text not null default 'active' check (status in ('active', 'merged', 'ignored')),
  merged_into uuid references public.face_persons (id) on delete set null,
  linked_user_id uuid,
  display_name text,
  representative_face_id uuid,
  face_count integer not null default 0,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  check ((status = 'merged') = (merged_into is not null)),
  check (merged_into is distinct from id)
);
create index if not exists idx_face_persons_event on public.face_persons (event_id, status, face_count desc);
create index if not exists idx_face_persons_linked_user on public.face_persons (event_id, linked_user_id)
  where linked_user_id is not null;
create index if not exists idx_face_persons_merged_into on public.face_persons (merged_into)
  where merged_into is not null;

alter table public.face_persons enable row level security;
drop policy if exists face_persons_member_read on public.face_persons;
create policy face_persons_member_read on public.face_persons for select to authenticated
  using (public.is_event_member(event_id));
drop policy if exists face_persons_organiser_write on public.face_persons;
create policy face_persons_organiser_write on public.face_persons for all to authenticated
  using (public.is_event_organiser(event_id)) with check (public.is_event_organiser(event_id));

-- faces ----------------------------------------------------------------------------------
-- Embeddings of different models coexist in one untyped `vector` column: the licence-clean
-- dlib recogniser gives 128-d vectors, ArcFace 512-d. Every face records the model pack that
-- produced it (`model`), and every comparison filters on it, so vectors of different models
-- are never compared. An ANN index needs a fixed dimension, so there is one partial
-- expression index per dimension; queries use the same expression and predicate.
create table if not exists public.faces (
  id uuid primary key default gen_random_uuid(),
  event_id uuid not null references public.events (id) on delete cascade,
  media_id uuid not null references public.media (id) on delete cascade,
  model text not null,
  -- [x1, y1, x2, y2] and five [x, y] landmarks (eyes, nose, mouth corners), flattened,
  -- in the original image's pixels after EXIF orientation.
  bbox real[] not null check (cardinality(bbox) = 4),
  landmarks real[] not null check (cardinality(landmarks) = 10),
  det_score real not null,
  quality real not null,
  embedding vector not null,
  -- Small JPEG crop for lists and review pages (a few kB), cut at detection time so that
  -- listing persons never has to fetch originals.
  thumbnail bytea,
  person_id uuid references public.face_persons (id) on delete set null,
  -- How the face got its person: 'cluster', 'incremental' or 'user' (a user put it there;
  -- re-clustering keeps such faces where they are).
  assignment text check (assignment in ('cluster', 'incremental', 'user')),
  -- Persons a user removed this face from: it is never put back into any of them.
  rejected_person_ids uuid[] not null default '{}',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  check ((person_id is null) = (assignment is null))
);
create index if not exists idx_faces_event_model on public.faces (event_id, model);
create index if not exists idx_faces_media on public.faces (media_id, model);
create index if not exists idx_faces_person on public.faces (person_id) where person_id is not null;
create index if not exists idx_faces_unassigned on public.faces (event_id, model, created_at)
  where person_id is null;
-- HNSW rather than the guide's IVFFlat: IVFFlat picks its list centroids when the index is
-- built, and an index created on an empty table (as a migration does) clusters nothing and
-- recalls badly until rebuilt; HNSW needs no training, takes inserts incrementally and has
-- better recall/speed trade-offs at our sizes. Cosine distance, as embeddings are compared
-- after L2 normalisation.
create index if not exists idx_faces_embedding on public.faces
  using hnsw ((embedding::vector(128)) vector_cosine_ops) where (vector_dims(embedding) = 128);
create index if not exists idx_faces_embedding_512 on public.faces
  using hnsw ((embedding::vector(512)) vector_cosine_ops) where (vector_dims(embedding) = 512);

alter table public.face_persons
  drop constraint if exists face_persons_representative_face_id_fkey;
alter table public.face_persons
  add constraint face_persons_representative_face_id_fkey
  foreign key (representative_face_id) references public.faces (id) on delete set null;

alter table public.faces enable row level security;
drop policy if exists faces_member_read on public.faces;
create policy faces_member_read on public.faces for select to authenticated
  using (public.is_event_member(event_id));
drop policy if exists faces_organiser_write on public.faces;
create policy faces_organiser_write on public.faces for all to authenticated
  using (public.is_event_organiser(event_id)) with check (public.is_event_organiser(event_id));

-- media_analyses -------------------------------------------------------------------------
-- One row per (media, model) once that media has been analysed by that model pack: the
-- record that makes detection idempotent (a redelivered message finds it and does nothing)
-- and lets ml-enqueue skip media already processed by the current model.
create table if not exists public.media_analyses (
  media_id uuid not null references public.media (id) on delete cascade,
  model text not null,
  event_id uuid not null references public.events (id) on delete cascade,
  face_count integer not null,
  width integer,
  height integer,
  analysed_at timestamptz not null default now(),
  primary key (media_id, model)
);
create index if not exists idx_media_analyses_event on public.media_analyses (event_id, model);

alter table public.media_analyses enable row level security;
drop policy if exists media_analyses_member_read on public.media_analyses;
create policy media_analyses_member_read on public.media_analyses for select to authenticated
  using (public.is_event_member(event_id));

-- media_tags -----------------------------------------------------------------------------
-- "User U is in media M". source = 'face' tags are derived from person links and maintained
-- by the backend (a face tag exists exactly while some face on that media belongs to an
-- active person linked to that user); source = 'manual' tags are the app's and are never
-- touched by face recognition.
create table if not exists public.media_tags (
  id uuid primary key default gen_random_uuid(),
  media_id uuid not null references public.media (id) on delete cascade,
  user_id uuid not null,
  source text not null check (source in ('face', 'manual')),
  person_id uuid references public.face_persons (id) on delete set null,
  created_at timestamptz not null default now(),
  unique (media_id, user_id)
);
create index if not exists idx_media_tags_user on public.media_tags (user_id);
create index if not exists idx_media_tags_person on public.media_tags (person_id) where person_id is not null;

alter table public.media_tags enable row level security;
drop policy if exists media_tags_member_read on public.media_tags;
create policy media_tags_member_read on public.media_tags for select to authenticated
  using (public.is_event_member((select m.event_id from public.media m where m.id = media_id)));
drop policy if exists media_tags_organiser_write on public.media_tags;
create policy media_tags_organiser_write on public.media_tags for all to authenticated
  using (public.is_event_organiser((select m.event_id from public.media m where m.id = media_id)))
  with check (public.is_event_organiser((select m.event_id from public.media m where m.id = media_id)));
