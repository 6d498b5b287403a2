"""Connections: the URL to use, a process-wide pool, and per-connection setup.

Every connection gets ``search_path = public, extensions`` (Supabase keeps pgvector in the
``extensions`` schema) and the pgvector adapter, so ``numpy`` arrays go in and come out of
``vector`` columns without string formatting.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from pgvector.psycopg import register_vector
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from shared.db.embedded import start_embedded_server
from shared.errors import OperatorError
from shared.settings import Settings

SEARCH_PATH_OPTION = "-c search_path=public,extensions"

_pool_lock = threading.Lock()


class DatabaseUnavailableError(OperatorError):
    """The database cannot be reached: a transient condition callers answer with a retry (5xx)."""


def resolve_database_url(settings: Settings) -> str:
    """``DATABASE_URL`` when set, else the embedded server under the data directory."""
    if settings.database_url:
        return settings.database_url
    return start_embedded_server(settings.facecluster_data_dir / "pgdata")


def configure_connection(conn: psycopg.Connection) -> None:
    """Register the pgvector adapter when the extension exists (it does after migrating)."""
    # Before the first migration the vector type does not exist; only `db migrate` runs then.
    with contextlib.suppress(psycopg.ProgrammingError):
        register_vector(conn)
    conn.commit()


def connect(url: str, *, autocommit: bool = False) -> psycopg.Connection:
    """One configured connection, outside the pool (migrations, tests, short CLI tasks)."""
    try:
        conn = psycopg.connect(url, options=SEARCH_PATH_OPTION, autocommit=autocommit, row_factory=dict_row)
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailableError(f"cannot connect to the database: {exc}") from exc
    configure_connection(conn)
    return conn


@functools.cache
def _pool_for(url: str, max_size: int) -> ConnectionPool:
    pool = ConnectionPool(
        url,
        min_size=1,
        max_size=max_size,
        kwargs={"options": SEARCH_PATH_OPTION, "row_factory": dict_row},
        configure=configure_connection,
        # A connection cut by a database restart would otherwise fail one request each
        # (a 503 that Pub/Sub must retry); checking on checkout costs one round trip.
        check=ConnectionPool.check_connection,
        open=False,
        name="facecluster",
    )
    pool.open(wait=False)
    return pool


def get_pool(settings: Settings, max_size: int = 8) -> ConnectionPool:
    """The process-wide pool for the configured database (created on first use)."""
    with _pool_lock:
        return _pool_for(resolve_database_url(settings), max_size)


@contextmanager
def transaction(pool: ConnectionPool, timeout: float = 10.0) -> Iterator[psycopg.Connection]:
    """A pooled connection inside one transaction: committed on success, rolled back on error.

    Pool and connection failures become :class:`DatabaseUnavailableError` so that HTTP layers
    can answer 503 (and Pub/Sub retries) without knowing psycopg.
    """
    try:
        with pool.connection(timeout=timeout) as conn, conn.transaction():
            yield conn
    except psycopg.OperationalError as exc:  # includes the pool's PoolTimeout and server shutdowns
        raise DatabaseUnavailableError(f"database unavailable: {exc}") from exc
