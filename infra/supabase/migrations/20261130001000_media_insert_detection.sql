-- Uploads start detection from the database itself (issue 15): the app stores a photo in Supabase
-- Storage and inserts its `media` row, and nothing else; detection must start with no call from it.
--
-- The database is the source of truth, the notification only a nudge:
--
--   * An insert of image media into an event with face recognition on records each new row in
--     `media_awaiting_detection`, in the inserting transaction: the record exists exactly when the
--     media row committed, whatever happens to any message afterwards.
--   * The same trigger then says "event E has media awaiting detection", once per event and
--     statement (an upload of 500 photos in one insert is one notification, not 500 requests):
--       - always `pg_notify('facecluster_media_inserted', '<event id>')`, delivered at commit; the
--         local stack (pgserver, CI, the demo) LISTENs and forwards it to the endpoint;
--       - where `pg_net` and Supabase Vault hold the endpoint's URL and secret (production), a
--         `net.http_post` of `{"event_id": "<event id>"}` with header `X-Webhook-Secret` to
--         ml-media-inserted. pg_net sends after commit from a background worker, once, never retried.
--   * The endpoint reads what to do from this table, creates the detect jobs (the in-flight unique
--     index makes that idempotent), publishes them, and only then forgets the rows. So the
--     notification carries no authority: a forged one (anyone may call pg_notify), a repeated one
--     or a lost one changes nothing, and the sweep (ml-callback `{"type": "sweep"}`) drains rows a
--     lost notification left behind.
--
-- Why the trigger does not insert the `ml_jobs` row itself: the job's model pack is the event's
-- recorded pack or the service's MODEL_PACK, which only the backend knows, and the job's message
-- must be published to Pub/Sub, which only the backend can do; a job row created here would
-- duplicate that rule in SQL.
--
-- The secret lives in Vault rather than in the trigger's definition (Supabase's dashboard webhooks
-- put their headers in `pg_trigger`, readable by anyone who can read the catalog). Setup:
--   select vault.create_secret('https://ml-media-inserted-<number>.<region>.run.app', 'facecluster_media_webhook_url');
--   select vault.create_secret('<MEDIA_WEBHOOK_SECRET>', 'facecluster_media_webhook_secret');
-- Without pg_net, Vault or either secret, only pg_notify is sent (and the sweep still drains).

create table if not exists public.media_awaiting_detection (
  media_id uuid primary key references public.media (id) on delete cascade,
  event_id uuid not null references public.events (id) on delete cascade,
  created_at timestamptz not null default now()
);
create index if not exists idx_media_awaiting_detection_event
  on public.media_awaiting_detection (event_id, created_at);

-- Backend-only: row-level security on, no policy, no grant. Only the trigger below (as its owner)
-- and the backend write it; the API roles can neither see nor forge what awaits detection.
alter table public.media_awaiting_detection enable row level security;
revoke all on table public.media_awaiting_detection from anon, authenticated;

-- SECURITY DEFINER: the inserting role (the app's `authenticated` user, under the app's own media
-- policies) has no right on media_awaiting_detection nor on Vault; search_path is pinned so those
-- rights cannot be hijacked. The webhook is best effort: a pg_net failure is a warning, never a
-- failed upload (the row above is what counts).
create or replace function public.record_inserted_media() returns trigger
language plpgsql security definer set search_path = public, pg_temp
as $$
declare
  v_events uuid[];
  v_event uuid;
  v_url text;
  v_secret text;
begin
  with awaiting as (
    insert into public.media_awaiting_detection (media_id, event_id)
    select m.id, m.event_id
      from inserted_media m join public.events e on e.id = m.event_id
     where e.face_recognition_enabled and (m.mime_type is null or m.mime_type like 'image/%')
    on conflict (media_id) do nothing
    returning event_id
  )
  select array_agg(distinct event_id) into v_events from awaiting;
  if v_events is null then
    return null;
  end if;

  if to_regclass('vault.decrypted_secrets') is not null
     and exists (select 1 from pg_proc p where p.proname = 'http_post'
                   and p.pronamespace = to_regnamespace('net')) then
    execute 'select max(decrypted_secret) filter (where name = $1), max(decrypted_secret) filter (where name = $2)'
            ' from vault.decrypted_secrets where name in ($1, $2)'
      into v_url, v_secret using 'facecluster_media_webhook_url', 'facecluster_media_webhook_secret';
  end if;

  foreach v_event in array v_events loop
    perform pg_notify('facecluster_media_inserted', v_event::text);
    if v_url is not null and v_secret is not null then
      begin
        execute 'select net.http_post(url => $1, body => $2, headers => $3, timeout_milliseconds => 5000)'
          using v_url, jsonb_build_object('event_id', v_event),
                jsonb_build_object('Content-Type', 'application/json', 'X-Webhook-Secret', v_secret);
      exception when others then
        raise warning 'facecluster: media-inserted webhook not queued (%); the sweep starts detection', sqlerrm;
      end;
    end if;
  end loop;
  return null;
end
$$;

-- A statement-level trigger with a transition table: one notification per event and statement.
drop trigger if exists media_inserted_detection on public.media;
create trigger media_inserted_detection
  after insert on public.media
  referencing new table as inserted_media
  for each statement execute function public.record_inserted_media();

-- Only the trigger runs it (PostgreSQL refuses a direct call of a trigger function anyway).
revoke execute on function public.record_inserted_media() from public, anon, authenticated;
