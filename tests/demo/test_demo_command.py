"""The README's first command on the shared photo set: ``bash scripts/demo.sh ../shared/data/faces``."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import psycopg
import pytest

from localdev.stack.demo_session import demo_event_name
from localdev.stack.photos import find_photos
from shared.settings import REPO_ROOT

SUMMARY_LINE = re.compile(r"^  (images|faces|persons|unassigned)\s+(\d+)", re.MULTILINE)


@pytest.mark.slow
def test_demo_script_on_the_shared_photos(faces_data_dir: Path, demo_env: dict[str, str],
                                          db: psycopg.Connection) -> None:
    result = subprocess.run(["bash", "scripts/demo.sh", str(faces_data_dir)], cwd=REPO_ROOT,
                            env={**os.environ, **demo_env}, capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    summary = {name: int(value) for name, value in SUMMARY_LINE.findall(result.stdout)}
    assert re.search(r"\b0 failed\)", result.stdout), result.stdout

    event = db.execute("select id from events where name = %s",
                       (demo_event_name(faces_data_dir.resolve()),)).fetchone()
    counts = db.execute(
        """
        select (select count(*) from media where event_id = %(e)s) as images,
               (select count(*) from faces where event_id = %(e)s) as faces,
               (select count(*) from face_persons where event_id = %(e)s and status = 'active') as persons,
               (select count(*) from faces where event_id = %(e)s and person_id is null) as unassigned
        """, {"e": event["id"]}).fetchone()
    assert summary == dict(counts)
    assert summary["images"] == len(find_photos(faces_data_dir))
    assert summary["persons"] > 1 and summary["faces"] >= summary["images"] * 0.9
    snapshot = Path(re.search(r"^  snapshot\s+(\S+)", result.stdout, re.MULTILINE).group(1))
    assert snapshot.is_file() and snapshot.is_relative_to(Path(demo_env["FACECLUSTER_DATA_DIR"]))
