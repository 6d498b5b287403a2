"""The embedded local PostgreSQL 16 + pgvector server (``pgserver`` from PyPI).

Used when ``DATABASE_URL`` is unset, so a fresh machine needs no database installation.
``pgserver`` listens on a Unix socket only (no TCP port to collide with), and when run as
root it runs PostgreSQL as its own unprivileged ``pgserver`` system user, which PostgreSQL
requires. Several processes may share one data directory: the server keeps running while
any of them holds it and stops when the last one exits.
"""

from __future__ import annotations

import logging
from pathlib import Path

from shared.errors import OperatorError

logger = logging.getLogger(__name__)


class EmbeddedDatabaseError(OperatorError):
    """The embedded server could not be started; the message says why and where its log is."""


def start_embedded_server(pgdata: Path) -> str:
    """Start (or join) the embedded server whose data lives in ``pgdata``; return its URI."""
    try:
        import pgserver
    except ImportError as exc:
        raise EmbeddedDatabaseError(
            "DATABASE_URL is unset and the embedded server is not installed: "
            "install the dev extra (pip install -e '.[dev]') or set DATABASE_URL") from exc
    pgdata.mkdir(parents=True, exist_ok=True)
    try:
        server = pgserver.get_server(pgdata, cleanup_mode="stop")
    except Exception as exc:  # pgserver raises CalledProcessError, TimeoutExpired, AssertionError
        raise EmbeddedDatabaseError(
            f"could not start the embedded PostgreSQL in {pgdata}: {exc} (see {pgdata / 'log'})") from exc
    uri = server.get_uri()
    logger.info("embedded PostgreSQL ready", extra={"pgdata": str(pgdata)})
    return uri
