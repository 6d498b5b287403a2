-- "Not the same person": pairs of persons an organiser said are different (issue 16).
--
-- Merge suggestions never offer such a pair again. One row per unordered pair, stored with
-- person_a < person_b, so the answer holds in both directions without a second row to keep in
-- step. Re-clustering keeps it: a person named in a distinction is user-owned
-- (shared/db/clustering_store.py load_persons), so its id and faces survive every run, and a
-- merge hands the merged person's distinctions to the person it went into
-- (shared/db/person_distinctions.py).
--
-- Both persons must be of this event and of one model: composite foreign keys on
-- (event_id, model, id), like every other person reference (20261129003200). They cascade on
-- update (a re-embedding changes persons' model in one deferred transaction) and on delete (a
-- purge or a person deleted by re-clustering takes its distinctions along).

create table if not exists public.face_person_distinctions (
  event_id uuid not null references public.events (id) on delete cascade,
  model text not null,
  person_a uuid not null,
  person_b uuid not null,
  created_by uuid,
  created_at timestamptz not null default now(),
  primary key (event_id, person_a, person_b),
  check (person_a < person_b),
  constraint face_person_distinctions_a_same_event_model_fkey
    foreign key (event_id, model, person_a) references public.face_persons (event_id, model, id)
    on update cascade on delete cascade deferrable initially immediate,
  constraint face_person_distinctions_b_same_event_model_fkey
    foreign key (event_id, model, person_b) references public.face_persons (event_id, model, id)
    on update cascade on delete cascade deferrable initially immediate
);
create index if not exists idx_face_person_distinctions_b on public.face_person_distinctions (person_b);
create index if not exists idx_face_person_distinctions_a on public.face_person_distinctions (person_a);

-- Members read their event's distinctions; organisers add and withdraw them; nobody edits one
-- (a different pair is a different row). The backend writes through face-person-actions.
alter table public.face_person_distinctions enable row level security;
drop policy if exists face_person_distinctions_member_read on public.face_person_distinctions;
create policy face_person_distinctions_member_read on public.face_person_distinctions for select to authenticated
  using (public.is_event_member(event_id));
drop policy if exists face_person_distinctions_organiser_insert on public.face_person_distinctions;
create policy face_person_distinctions_organiser_insert on public.face_person_distinctions for insert
  to authenticated with check (public.is_event_organiser(event_id));
drop policy if exists face_person_distinctions_organiser_delete on public.face_person_distinctions;
create policy face_person_distinctions_organiser_delete on public.face_person_distinctions for delete
  to authenticated using (public.is_event_organiser(event_id));

revoke all on table public.face_person_distinctions from anon, authenticated;
grant select, insert, delete on table public.face_person_distinctions to authenticated;
