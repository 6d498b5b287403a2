-- Core app tables and pgvector.
--
-- The app already owns `events`, `media` and `event_members` on Supabase; these statements
-- create minimal versions only where they do not exist yet (a fresh local database), and
-- add the one column face recognition needs to an existing `events` table.

do $$
begin
  if not exists (select 1 from pg_available_extensions where name = 'vector') then
    raise exception 'pgvector is not available on this PostgreSQL server'
      using hint = 'Install pgvector (Supabase: Database > Extensions > vector; '
                   'locally: leave DATABASE_URL unset to use the embedded server, which ships it).';
  end if;
end
$$;

-- Supabase keeps extensions in the `extensions` schema, which is on every API role's
-- search_path; the migration runner and the connection pool put it on ours too.
create schema if not exists extensions;
create extension if not exists vector with schema extensions;

create table if not exists public.events (
  id uuid primary key default gen_random_uuid(),
  owner_id uuid not null,
  name text not null default '',
  created_at timestamptz not null default now()
);

alter table public.events
  add column if not exists face_recognition_enabled boolean not null default false;

create table if not exists public.event_members (
  event_id uuid not null references public.events (id) on delete cascade,
  user_id uuid not null,
  role text not null default 'member' check (role in ('organiser', 'member')),
  created_at timestamptz not null default now(),
  primary key (event_id, user_id)
);
create index if not exists idx_event_members_user on public.event_members (user_id);

create table if not exists public.media (
  id uuid primary key default gen_random_uuid(),
  event_id uuid not null references public.events (id) on delete cascade,
  uploaded_by uuid,
  storage_path text not null,
  mime_type text,
  created_at timestamptz not null default now()
);
create index if not exists idx_media_event on public.media (event_id);
-- Object-finalize notifications name the object; this finds its media row.
create index if not exists idx_media_storage_path on public.media (storage_path);
