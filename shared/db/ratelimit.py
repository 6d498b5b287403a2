"""SQL of the shared rate-limit counter (``api_rate_limit_hit``, migration 20261124002000)."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg


@dataclass(frozen=True)
class WindowCount:
    hits: int                  # requests counted in the current window, this one included
    retry_after_seconds: int   # until the window ends


def count_hit(conn: psycopg.Connection, subject: str, endpoint: str, window_seconds: int) -> WindowCount:
    row = conn.execute("select * from api_rate_limit_hit(%s, %s, %s)", (subject, endpoint, window_seconds)).fetchone()
    return WindowCount(row["hits"], row["retry_after_seconds"])


def delete_expired_windows(conn: psycopg.Connection, older_than_seconds: int) -> int:
    """Drop counters of windows long over (subjects that stopped calling never clean up after themselves)."""
    return conn.execute("delete from api_rate_limits where window_start < now() - make_interval(secs => %s)",
                        (older_than_seconds,)).rowcount
