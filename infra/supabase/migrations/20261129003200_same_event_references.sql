-- Every reference between face rows stays inside one event, and inside one embedding model
-- where vectors are compared (issue 13).
--
-- The organisers' write policies check only the row's own event_id, so an organiser of event
-- A could insert a detect job or a face for B's media, move a face into a person of B or merge
-- a person into one of B: each row passes its policy and points across. Composite foreign keys
-- carry the event (and model) inside the reference itself, so such a row cannot exist whoever
-- writes it, the backend included, and the check costs one index probe per write. A policy
-- that looked the target up would do the same only for the API roles, and triggers would
-- re-implement what foreign keys already guarantee under concurrency.
--
--   face -> media              (event_id, media_id)              -> media (event_id, id)
--   face -> person             (event_id, model, person_id)      -> face_persons (event_id, model, id)
--   person -> merged-into      (event_id, model, merged_into)    -> face_persons (event_id, model, id)
--   person -> representative   (event_id, model, representative_face_id) -> faces (event_id, model, id)
--   job -> media               (event_id, media_id)              -> media (event_id, id)
--   analysis -> media          (event_id, media_id)              -> media (event_id, id)
--   tag -> media, tag -> person (event_id, media_id / person_id) -> media / face_persons (event_id, id)
--
-- They replace the single-column keys they extend. The three keys that carry a model are
-- DEFERRABLE (initially immediate, so a bad write fails at its statement): re-embedding an
-- event changes its persons' model and replaces their faces in one transaction, which runs
-- `set constraints all deferred` and is checked at commit. `on delete set null (column)`
-- (PostgreSQL 15+) clears only the reference, never the event or model.
--
-- Existing rows: a cross-event or cross-model row can only have been written through the API
-- roles before this migration, i.e. by an attack or a client bug. The migration refuses to
-- run and says how many of each kind there are, rather than deleting data nobody has looked
-- at; the queries below find them.

do $$
declare
  v_check record;
  v_count bigint;
  v_problems text[] := '{}';
begin
  for v_check in select * from (values
      ('faces on media of another event',
       'select count(*) from public.faces f join public.media m on m.id = f.media_id where m.event_id <> f.event_id'),
      ('faces in a person of another event or model',
       'select count(*) from public.faces f join public.face_persons p on p.id = f.person_id'
       ' where (p.event_id, p.model) <> (f.event_id, f.model)'),
      ('persons merged into a person of another event or model',
       'select count(*) from public.face_persons p join public.face_persons t on t.id = p.merged_into'
       ' where (t.event_id, t.model) <> (p.event_id, p.model)'),
      ('persons whose representative face is of another event or model',
       'select count(*) from public.face_persons p join public.faces f on f.id = p.representative_face_id'
       ' where (f.event_id, f.model) <> (p.event_id, p.model)'),
      ('jobs for media of another event',
       'select count(*) from public.ml_jobs j join public.media m on m.id = j.media_id where m.event_id <> j.event_id'),
      ('analyses recorded in another event than their media',
       'select count(*) from public.media_analyses a join public.media m on m.id = a.media_id'
       ' where m.event_id <> a.event_id'),
      ('tags whose person is of another event than their media',
       'select count(*) from public.media_tags t join public.media m on m.id = t.media_id'
       ' join public.face_persons p on p.id = t.person_id where p.event_id <> m.event_id')
    ) as c(what, query)
  loop
    execute v_check.query into v_count;
    if v_count > 0 then
      v_problems := v_problems || format('%s %s', v_count, v_check.what);
    end if;
  end loop;
  if cardinality(v_problems) > 0 then
    raise exception 'rows reference another event or model: %', array_to_string(v_problems, '; ')
      using hint = 'They were written through the API roles before this migration (issue 13). Find them with '
                   'the queries in 20261129003200_same_event_references.sql, delete or correct them, and migrate again.';
  end if;
end
$$;

-- Referenced keys. A unique index on (event_id, id) is implied by the primary key on id; it
-- exists so that foreign keys can name the event.
create unique index if not exists uq_media_event_id on public.media (event_id, id);
create unique index if not exists uq_face_persons_event_id on public.face_persons (event_id, id);
create unique index if not exists uq_face_persons_event_model_id on public.face_persons (event_id, model, id);
create unique index if not exists uq_faces_event_model_id on public.faces (event_id, model, id);

alter table public.faces
  drop constraint if exists faces_media_id_fkey,
  drop constraint if exists faces_media_same_event_fkey,
  add constraint faces_media_same_event_fkey
    foreign key (event_id, media_id) references public.media (event_id, id) on delete cascade,
  drop constraint if exists faces_person_id_fkey,
  drop constraint if exists faces_person_same_event_model_fkey,
  add constraint faces_person_same_event_model_fkey
    foreign key (event_id, model, person_id) references public.face_persons (event_id, model, id)
    on delete set null (person_id) deferrable initially immediate;

alter table public.face_persons
  drop constraint if exists face_persons_merged_into_fkey,
  drop constraint if exists face_persons_merged_into_same_event_model_fkey,
  add constraint face_persons_merged_into_same_event_model_fkey
    foreign key (event_id, model, merged_into) references public.face_persons (event_id, model, id)
    on delete set null (merged_into) deferrable initially immediate,
  drop constraint if exists face_persons_representative_face_id_fkey,
  drop constraint if exists face_persons_representative_same_event_model_fkey,
  add constraint face_persons_representative_same_event_model_fkey
    foreign key (event_id, model, representative_face_id) references public.faces (event_id, model, id)
    on delete set null (representative_face_id) deferrable initially immediate;

alter table public.ml_jobs
  drop constraint if exists ml_jobs_media_id_fkey,
  drop constraint if exists ml_jobs_media_same_event_fkey,
  add constraint ml_jobs_media_same_event_fkey
    foreign key (event_id, media_id) references public.media (event_id, id) on delete cascade;

alter table public.media_analyses
  drop constraint if exists media_analyses_media_id_fkey,
  drop constraint if exists media_analyses_media_same_event_fkey,
  add constraint media_analyses_media_same_event_fkey
    foreign key (event_id, media_id) references public.media (event_id, id) on delete cascade;

-- Tags had no event of their own; they get their media's. The app's inserts (manual tags) do
-- not name it: a trigger fills it from the media row the caller can see.
alter table public.media_tags add column if not exists event_id uuid;
update public.media_tags t set event_id = m.event_id
  from public.media m where m.id = t.media_id and t.event_id is distinct from m.event_id;
alter table public.media_tags alter column event_id set not null;
create index if not exists idx_media_tags_event on public.media_tags (event_id);

create or replace function public.fill_media_tag_event() returns trigger
language plpgsql set search_path = public, pg_temp
as $$
begin
  new.event_id := coalesce(new.event_id, (select m.event_id from public.media m where m.id = new.media_id));
  return new;
end
$$;
revoke execute on function public.fill_media_tag_event() from public, anon, authenticated;

drop trigger if exists media_tags_fill_event on public.media_tags;
create trigger media_tags_fill_event before insert or update of media_id on public.media_tags
  for each row execute function public.fill_media_tag_event();

alter table public.media_tags
  drop constraint if exists media_tags_media_id_fkey,
  drop constraint if exists media_tags_media_same_event_fkey,
  add constraint media_tags_media_same_event_fkey
    foreign key (event_id, media_id) references public.media (event_id, id) on delete cascade,
  drop constraint if exists media_tags_person_id_fkey,
  drop constraint if exists media_tags_person_same_event_fkey,
  add constraint media_tags_person_same_event_fkey
    foreign key (event_id, person_id) references public.face_persons (event_id, id) on delete set null (person_id);
