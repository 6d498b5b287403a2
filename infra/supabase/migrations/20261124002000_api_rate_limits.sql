-- Rate limiting of the app-facing functions, shared by all their instances.
--
-- Cloud Run runs many instances of a function, so a per-process counter would let a client
-- multiply its allowance by the instance count. A fixed-window counter per (subject, endpoint,
-- window) in Postgres holds across instances: one upsert per request returns the count.
-- Backend only: RLS is enabled with no policies and the API roles have no rights on it.

create table if not exists public.api_rate_limits (
  subject text not null,
  endpoint text not null,
  window_start timestamptz not null,
  hits integer not null,
  primary key (subject, endpoint, window_start)
);
-- Old windows are deleted by key on the next hit and in bulk by the ml-callback sweep.
create index if not exists idx_api_rate_limits_window on public.api_rate_limits (window_start);

alter table public.api_rate_limits enable row level security;
revoke all on table public.api_rate_limits from anon, authenticated;

-- Count one hit of `p_subject` on `p_endpoint` in the current window of `p_window_seconds`;
-- return the hits so far in this window and the seconds until it ends (for Retry-After).
create or replace function public.api_rate_limit_hit(p_subject text, p_endpoint text, p_window_seconds integer)
returns table (hits integer, retry_after_seconds integer)
language plpgsql volatile set search_path = public, pg_temp
as $$
declare
  v_start timestamptz := to_timestamp(floor(extract(epoch from clock_timestamp()) / p_window_seconds)
                                      * p_window_seconds);
begin
  delete from public.api_rate_limits r
   where r.subject = p_subject and r.endpoint = p_endpoint and r.window_start < v_start;
  return query
    insert into public.api_rate_limits as r (subject, endpoint, window_start, hits)
    values (p_subject, p_endpoint, v_start, 1)
    on conflict (subject, endpoint, window_start) do update set hits = r.hits + 1
    returning r.hits,
              greatest(1, ceil(extract(epoch from r.window_start + make_interval(secs => p_window_seconds)
                                                  - clock_timestamp())))::integer;
end
$$;

revoke execute on function public.api_rate_limit_hit(text, text, integer) from public, anon, authenticated;
