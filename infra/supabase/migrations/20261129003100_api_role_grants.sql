-- The API roles get no more than the row-level security policies need, on every table the
-- migrations create, the app tables included (issue 13).
--
-- Supabase, and infra/supabase/compat which mirrors it, grants every privilege on every new
-- table in `public` to anon and authenticated and relies on RLS to narrow rows down. A table
-- without RLS is therefore open to anyone holding the anon key: `anon` listed every event,
-- made itself organiser of a stranger's event and pointed media at local files. From here on:
--
--   * anon: nothing, on any table or function of ours.
--   * authenticated: read what the policies let members read; write only the face tables
--     organisers may change (their write policies, kept in line by the same-event keys of
--     20261129003200). Raw embeddings are never readable (column grant below).
--   * events / event_members / media, where facecluster created them (20261124000100 on a
--     database that had none), are read-only for members. We recognise those tables by RLS
--     being off: an app that owns these tables and writes them through the API has RLS on and
--     its own policies, and this migration leaves its policies and grants alone (README,
--     "Database security", says what such an app must have). An app table with RLS off is
--     open to anon, so it is closed here like ours.
--   * `events.face_recognition_enabled` is never changed by an API role directly, whatever
--     the app grants: turning it on needs the consent face-person-actions asks for, turning it
--     off must purge the event's face data. A trigger refuses the change unless the session
--     acts as the backend (see public.session_is_backend).

-- The role a session acts as: what SET ROLE (PostgREST: the JWT's verified role) chose, else
-- the login role. Unlike current_user it is the caller's role inside SECURITY DEFINER
-- functions too, and unlike auth.role() it cannot be shaped by the claims a client sends.
create or replace function public.session_role() returns name
language sql stable set search_path = pg_catalog, pg_temp
as $$
  select coalesce(nullif(current_setting('role'), 'none'), session_user)::name
$$;

-- Whether the session acts as the backend: a role that bypasses row-level security anyway
-- (superuser, BYPASSRLS such as service_role) or owns the face tables (the migrating role,
-- Supabase's `postgres`). Functions that bypass RLS grant such a caller nothing it lacks.
create or replace function public.session_is_backend() returns boolean
language sql stable set search_path = pg_catalog, pg_temp
as $$
  select coalesce((select r.rolsuper or r.rolbypassrls or pg_has_role(r.oid, c.relowner, 'MEMBER')
                     from pg_roles r, pg_class c
                    where r.rolname = public.session_role() and c.oid = 'public.faces'::regclass), false)
$$;

create or replace function public.guard_face_recognition_switch() returns trigger
language plpgsql set search_path = public, pg_temp
as $$
begin
  if (tg_op = 'INSERT' and new.face_recognition_enabled
      or tg_op = 'UPDATE' and new.face_recognition_enabled is distinct from old.face_recognition_enabled)
     and not public.session_is_backend() then
    raise exception 'face_recognition_enabled changes only through face-person-actions (action '
                    'set_face_recognition), which records consent and purges the face data on turning off'
      using errcode = 'insufficient_privilege';
  end if;
  return new;
end
$$;

drop trigger if exists events_face_recognition_switch on public.events;
create trigger events_face_recognition_switch
  before insert or update of face_recognition_enabled on public.events
  for each row execute function public.guard_face_recognition_switch();

-- events, event_members, media: closed where they are ours (RLS still off), see above.
do $$
declare
  v_table text;
  v_event_column text;
begin
  foreach v_table in array array['events', 'event_members', 'media'] loop
    if (select c.relrowsecurity from pg_class c where c.oid = format('public.%I', v_table)::regclass) then
      raise notice '%: row-level security is already on; its policies and grants are the app''s', v_table;
      continue;
    end if;
    v_event_column := case v_table when 'events' then 'id' else 'event_id' end;
    execute format('alter table public.%I enable row level security', v_table);
    execute format('revoke all on table public.%I from anon, authenticated', v_table);
    execute format('grant select on table public.%I to authenticated', v_table);
    execute format('drop policy if exists %I on public.%I', v_table || '_member_read', v_table);
    execute format('create policy %I on public.%I for select to authenticated using (public.is_event_member(%I))',
                   v_table || '_member_read', v_table, v_event_column);
  end loop;
end
$$;

-- Face tables: start from nothing, then grant what the policies of 20261124000200 and later need.
revoke all on table public.faces, public.face_persons, public.media_tags, public.ml_jobs, public.media_analyses,
                    public.face_purge_log, public.face_recognition_opt_outs, public.api_rate_limits
  from anon, authenticated;
revoke all on sequence public.face_purge_log_id_seq from anon, authenticated;
grant select, insert, update, delete on table public.face_persons, public.media_tags, public.ml_jobs to authenticated;
grant insert, update, delete on table public.faces to authenticated;
grant select on table public.media_analyses, public.face_purge_log, public.face_recognition_opt_outs to authenticated;

-- Embeddings are biometric data: members see faces through their thumbnails, and only the
-- backend (which connects as the owner or service_role) reads vectors. A column grant rather
-- than a view, so the policies and the API's table stay as they are; a column added later is
-- unreadable by members until a migration grants it.
do $$
begin
  execute (select format('grant select (%s) on table public.faces to authenticated',
                         string_agg(quote_ident(a.attname), ', ' order by a.attnum))
             from pg_attribute a
            where a.attrelid = 'public.faces'::regclass and a.attnum > 0 and not a.attisdropped
              and a.attname <> 'embedding');
end
$$;

-- The migration runner's own record is exposed like any table in `public`.
alter table public.schema_migrations enable row level security;
revoke all on table public.schema_migrations from anon, authenticated;

-- Functions are executable by PUBLIC by default (and the compat layer grants anon too).
-- Policies call the membership checks as `authenticated`; triggers and SECURITY DEFINER
-- callers need nothing granted.
revoke execute on function public.is_event_member(uuid), public.is_event_organiser(uuid),
                           public.session_role(), public.session_is_backend()
  from public, anon;
grant execute on function public.is_event_member(uuid), public.is_event_organiser(uuid),
                          public.session_role(), public.session_is_backend()
  to authenticated, service_role;
revoke execute on function public.assert_may_purge(uuid, uuid), public.record_face_opt_out(),
                           public.guard_face_recognition_switch()
  from public, anon, authenticated;
