-- Supabase compatibility layer for plain PostgreSQL (local development and tests).
--
-- Supabase provides the roles anon / authenticated / service_role and the functions
-- auth.uid(), auth.role() and auth.jwt(), which read the JWT claims that PostgREST puts in
-- the `request.jwt.claims` setting. Our RLS policies use them, so a plain PostgreSQL needs
-- the same objects for the policies to run for real. `facecluster db migrate` applies this
-- file only when auth.uid() does not exist yet (i.e. never on Supabase), and every
-- statement is conditional, so it is safe to run twice.

do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'anon') then
    create role anon nologin noinherit;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'authenticated') then
    create role authenticated nologin noinherit;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'service_role') then
    create role service_role nologin noinherit bypassrls;
  end if;
end
$$;

create schema if not exists auth;
grant usage on schema auth to anon, authenticated, service_role;
grant usage on schema public to anon, authenticated, service_role;

create or replace function auth.jwt() returns jsonb
language sql stable
as $$
  select coalesce(nullif(current_setting('request.jwt.claims', true), ''), '{}')::jsonb
$$;

create or replace function auth.uid() returns uuid
language sql stable
as $$
  select nullif(auth.jwt() ->> 'sub', '')::uuid
$$;

create or replace function auth.role() returns text
language sql stable
as $$
  select nullif(auth.jwt() ->> 'role', '')
$$;

-- Supabase grants table privileges to the API roles by default and relies on RLS to
-- restrict rows; mirror that for tables the migrations create from now on.
alter default privileges in schema public grant select, insert, update, delete on tables
  to anon, authenticated, service_role;
alter default privileges in schema public grant usage, select on sequences
  to anon, authenticated, service_role;
alter default privileges in schema public grant execute on functions
  to anon, authenticated, service_role;
