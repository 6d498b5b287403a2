"""A second, real PostgreSQL without pgvector: Debian's postgresql-15 (installed by scripts/test.sh)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

DEBIAN_PG_BIN = Path("/usr/lib/postgresql/15/bin")


def _as_postgres(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root; use Debian's `postgres` system user then."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@pytest.fixture(scope="session")
def plain_postgres_url() -> Iterator[str]:
    if not (DEBIAN_PG_BIN / "postgres").exists():
        raise pytest.UsageError(f"{DEBIAN_PG_BIN}/postgres is missing: scripts/test.sh installs postgresql-15")
    root = Path(tempfile.mkdtemp(prefix="fc-pg15-"))
    root.chmod(0o777)
    pgdata = root / "data"
    subprocess.run(_as_postgres([str(DEBIAN_PG_BIN / "initdb"), "-D", str(pgdata), "-U", "postgres",
                                 "--auth=trust", "--encoding=utf8"]), check=True, capture_output=True)
    subprocess.run(_as_postgres([str(DEBIAN_PG_BIN / "pg_ctl"), "-D", str(pgdata), "-w", "-l", str(root / "log"),
                                 "-o", f"-h '' -k {root}", "start"]), check=True, capture_output=True)
    try:
        yield f"postgresql://postgres@/postgres?host={root}"
    finally:
        subprocess.run(_as_postgres([str(DEBIAN_PG_BIN / "pg_ctl"), "-D", str(pgdata), "-w", "-m", "immediate",
                                     "stop"]), capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
