"""Apply the SQL migrations in ``infra/supabase/migrations`` in order, exactly once each.

Applied files are recorded in ``public.schema_migrations`` with their SHA-256, so running
again is a no-op, and a file edited after it was applied is reported instead of silently
skipped. Outside Supabase, the compatibility layer (``infra/supabase/compat``: the API roles
and ``auth.uid()``) is applied first, so the RLS policies run for real locally.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import psycopg

from shared.db.connection import connect
from shared.errors import OperatorError
from shared.settings import REPO_ROOT

logger = logging.getLogger(__name__)

SUPABASE_DIR = REPO_ROOT / "infra" / "supabase"
MIGRATIONS_DIR = SUPABASE_DIR / "migrations"
COMPAT_DIR = SUPABASE_DIR / "compat"

# One migrator at a time per database (two instances starting together must not race).
_ADVISORY_LOCK_KEY = 0x66616365  # "face"


class MigrationError(OperatorError):
    """A migration could not be applied; the message names the file and the reason."""


@dataclass(frozen=True)
class Migration:
    version: str
    path: Path

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def list_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Migration files sorted by their timestamp prefix (``YYYYMMDDHHMMSS_name.sql``)."""
    return [Migration(path.name.split("_", 1)[0], path) for path in sorted(directory.glob("*.sql"))]


def _is_supabase(conn: psycopg.Connection) -> bool:
    row = conn.execute(
        "select exists (select 1 from pg_proc p join pg_namespace n on n.oid = p.pronamespace "
        "where n.nspname = 'auth' and p.proname = 'uid') as present").fetchone()
    return bool(row["present"])


def _execute_file(conn: psycopg.Connection, path: Path) -> None:
    try:
        conn.execute(path.read_text())
    except psycopg.errors.RaiseException as exc:
        raise MigrationError(f"{path.name}: {exc.diag.message_primary}. {exc.diag.message_hint or ''}".strip()) from exc
    except psycopg.Error as exc:
        raise MigrationError(f"{path.name}: {str(exc).strip()}") from exc


def migrate(url: str) -> list[str]:
    """Apply pending migrations to the database at ``url``; return the versions applied."""
    applied_now: list[str] = []
    with connect(url, autocommit=True) as conn:
        conn.execute("select pg_advisory_lock(%s)", (_ADVISORY_LOCK_KEY,))
        try:
            conn.execute(
                "create table if not exists public.schema_migrations ("
                " version text primary key, name text not null, checksum text not null,"
                " applied_at timestamptz not null default now())")
            if not _is_supabase(conn):
                for path in sorted(COMPAT_DIR.glob("*.sql")):
                    with conn.transaction():
                        _execute_file(conn, path)
            done = {row["version"]: row["checksum"]
                    for row in conn.execute("select version, checksum from public.schema_migrations")}
            for migration in list_migrations():
                if migration.version in done:
                    if done[migration.version] != migration.checksum:
                        logger.warning("migration changed after it was applied",
                                       extra={"migration": migration.path.name})
                    continue
                with conn.transaction():
                    _execute_file(conn, migration.path)
                    conn.execute(
                        "insert into public.schema_migrations (version, name, checksum) values (%s, %s, %s)",
                        (migration.version, migration.path.name, migration.checksum))
                logger.info("applied migration", extra={"migration": migration.path.name})
                applied_now.append(migration.version)
        finally:
            conn.execute("select pg_advisory_unlock(%s)", (_ADVISORY_LOCK_KEY,))
    return applied_now
