"""Helpers for the test PostgreSQL server."""

from __future__ import annotations


def database_url_for(server_url: str, dbname: str) -> str:
    """The server's URL pointing at another database (pgserver URLs are ``.../postgres?host=``)."""
    base, _, query = server_url.partition("?")
    return f"{base.rsplit('/', 1)[0]}/{dbname}" + (f"?{query}" if query else "")
