"""Per-user, per-endpoint rate limiting with a fixed one-minute window kept in Postgres.

The counter lives in the database (``api_rate_limit_hit``) so that every instance of a
function sees the same count. It is counted in its own short transaction, before the request's
work, so a refused request costs one upsert and a failed request still counts.
"""

from __future__ import annotations

from psycopg_pool import ConnectionPool

from shared.api.http import ApiError
from shared.db.connection import transaction
from shared.db.ratelimit import count_hit

WINDOW_SECONDS = 60


def enforce_rate_limit(pool: ConnectionPool, subject: str, endpoint: str, limit_per_minute: int) -> None:
    """Count this request; raise 429 with ``Retry-After`` once the window's allowance is used."""
    with transaction(pool) as conn:
        window = count_hit(conn, subject, endpoint, WINDOW_SECONDS)
    if window.hits > limit_per_minute:
        raise ApiError(429, "rate_limited",
                       f"more than {limit_per_minute} requests per minute to {endpoint}; "
                       f"retry in {window.retry_after_seconds} s",
                       headers={"Retry-After": str(window.retry_after_seconds)})
