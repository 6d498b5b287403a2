"""A stand-in for Supabase's ``pg_net`` and Vault, which the embedded PostgreSQL does not have.

``net.http_post`` has pg_net's signature but records the request in ``net.stand_in_requests``
instead of sending it from a background worker; a test then sends the recorded request itself, as
pg_net's worker would after the commit. ``vault.decrypted_secrets`` is a plain table with the
columns the real view has that the trigger reads (``name``, ``decrypted_secret``).
"""

from __future__ import annotations

import psycopg


def install_pg_net_stand_in(db: psycopg.Connection, *, failing: bool = False) -> None:
    """Create ``net.http_post`` and the Vault table; ``failing``: the function raises, as an unavailable queue would."""
    db.execute("create schema net")
    db.execute("create table net.stand_in_requests (id bigserial primary key, url text, body jsonb, params jsonb,"
               " headers jsonb, timeout_milliseconds integer)")
    action = ("raise exception 'pg_net stand-in: the request queue is unavailable';" if failing else
              "insert into net.stand_in_requests (url, body, params, headers, timeout_milliseconds)"
              " values (url, body, params, headers, timeout_milliseconds) returning id into request_id;")
    db.execute(f"""
        create function net.http_post(url text, body jsonb default '{{}}'::jsonb, params jsonb default '{{}}'::jsonb,
                                      headers jsonb default '{{"Content-Type": "application/json"}}'::jsonb,
                                      timeout_milliseconds integer default 5000) returns bigint
        language plpgsql as $$
        declare request_id bigint;
        begin
          {action}
          return request_id;
        end $$""")
    db.execute("create schema vault")
    db.execute("create table vault.decrypted_secrets (name text primary key, decrypted_secret text)")


def store_vault_secret(db: psycopg.Connection, name: str, value: str) -> None:
    """What ``select vault.create_secret(value, name)`` leaves readable in ``vault.decrypted_secrets``."""
    db.execute("insert into vault.decrypted_secrets (name, decrypted_secret) values (%s, %s)", (name, value))
