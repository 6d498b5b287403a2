"""Shared test fixtures: the real embedded PostgreSQL, and the paths of ../shared.

Tests use real components. The database is a real PostgreSQL 16 with pgvector (pgserver),
started once per test session; each test that asks for ``database_url`` gets its own fresh
database cloned from a migrated template, so tests never see each other's rows.
Photos and model weights are read from ``../shared`` beside the checkout (never copied into
the repository); a missing ``../shared`` is a setup error that fails loudly, not a skip.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pgserver
import psycopg
import pytest

from shared.db.connection import connect
from shared.db.embedded import start_embedded_server
from shared.db.migrate import migrate
from shared.settings import REPO_ROOT
from tests.pg import database_url_for

pytest_plugins = ["tests.support"]

SHARED_DIR = Path(os.environ.get("FACECLUSTER_SHARED_DIR", REPO_ROOT.parent / "shared")).resolve()
TEMPLATE_DB = "facecluster_template"


def _require_shared(path: Path) -> Path:
    if not path.exists():
        raise pytest.UsageError(f"{path} is missing: the tests read models and photos from ../shared "
                                "beside the checkout (or FACECLUSTER_SHARED_DIR)")
    return path


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    return _require_shared(SHARED_DIR)


@pytest.fixture(scope="session")
def models_dir(shared_dir: Path) -> Path:
    return _require_shared(shared_dir / "models")


@pytest.fixture(scope="session")
def faces_data_dir(shared_dir: Path) -> Path:
    return _require_shared(shared_dir / "data" / "faces")


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """A real PostgreSQL server for the whole session, with a migrated template database."""
    pgdata = Path(tempfile.mkdtemp(prefix="fc-pg-"))
    url = start_embedded_server(pgdata)
    with connect(url, autocommit=True) as conn:
        # A throwaway server: no test survives an operating-system crash of it, so it skips what makes
        # a commit durable (flushing the WAL to disk at every commit and database copy).
        for name in ("fsync", "synchronous_commit", "full_page_writes"):
            conn.execute(f"alter system set {name} = off")
        conn.execute("select pg_reload_conf()")
        conn.execute(f"create database {TEMPLATE_DB}")
    migrate(database_url_for(url, TEMPLATE_DB))
    yield url
    # Stopped here, not left to pgserver's exit hook: pytest-xdist's workers end without running
    # exit hooks, which left each worker's server running after the suite.
    pgserver.get_server(pgdata).cleanup()
    shutil.rmtree(pgdata, ignore_errors=True)


@pytest.fixture
def database_url(postgres_server_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh, migrated database for one test; also exported as DATABASE_URL."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    with connect(postgres_server_url, autocommit=True) as conn:
        conn.execute(f"create database {name} template {TEMPLATE_DB}")
    url = database_url_for(postgres_server_url, name)
    monkeypatch.setenv("DATABASE_URL", url)
    yield url
    with connect(postgres_server_url, autocommit=True) as conn:
        conn.execute(f"drop database if exists {name} with (force)")


@pytest.fixture
def db(database_url: str) -> Iterator[psycopg.Connection]:
    """An autocommit connection to the test's database, as the database owner (bypasses RLS)."""
    with connect(database_url, autocommit=True) as conn:
        yield conn
