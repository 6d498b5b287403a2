"""The Cloud Run Job entry point: ids from arguments or environment, job rows, exit codes, callback."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from jobs import cluster_event as job
from shared.clustering import job_run
from shared.db.ml_jobs import create_cluster_job
from tests.clustering.db_faces import Scene


@pytest.fixture
def callbacks(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict]]:
    """A local ml-callback that records what it receives."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append({"auth": self.headers["Authorization"],
                             "body": json.loads(self.rfile.read(int(self.headers["Content-Length"])))})
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("CALLBACK_URL", f"http://127.0.0.1:{server.server_port}/ml-callback")
    monkeypatch.setenv("CALLBACK_SECRET", "s3cret")
    yield received
    server.shutdown()


def _job(db, job_id: uuid.UUID) -> dict:
    return db.execute("select * from ml_jobs where id = %s", (job_id,)).fetchone()


def test_without_a_job_id_it_creates_the_job_completes_it_and_calls_back(db, callbacks) -> None:
    scene = Scene(db)
    assert job.main(["--event-id", str(scene.event)]) == 0
    row = db.execute("select * from ml_jobs where event_id = %s and job_type = 'cluster'", (scene.event,)).fetchone()
    assert row["status"] == "completed"
    assert row["result"]["persons"] == 3 and row["result"]["faces"] == 15 and row["result"]["unassigned"] == 0
    assert row["result"]["model"] == "yunet-dlib"
    [call] = callbacks
    assert call["auth"] == "Bearer s3cret"
    assert call["body"]["job_id"] == str(row["id"]) and call["body"]["status"] == "completed"


def test_ids_from_the_environment_claim_the_given_job(db, monkeypatch: pytest.MonkeyPatch) -> None:
    scene = Scene(db)
    job_id = create_cluster_job(db, scene.event, "yunet-dlib", priority=1, max_attempts=3)
    monkeypatch.setenv("EVENT_ID", str(scene.event))
    monkeypatch.setenv("JOB_ID", str(job_id))
    monkeypatch.setenv("CLOUD_RUN_EXECUTION", "face-cluster-abc12")
    assert job.main([]) == 0
    row = _job(db, job_id)
    assert row["status"] == "completed" and row["locked_by"].startswith("cluster:face-cluster-abc12:")


def test_a_second_concurrent_run_exits_cleanly_and_changes_nothing(db) -> None:
    scene = Scene(db)
    running = create_cluster_job(db, scene.event, "yunet-dlib", priority=1, max_attempts=3)
    db.execute("update ml_jobs set status = 'processing', locked_by = 'other',"
               " lease_expires_at = now() + interval '1 hour' where id = %s", (running,))
    assert job.main(["--event-id", str(scene.event)]) == 0
    assert job.main(["--event-id", str(scene.event), "--job-id", str(running)]) == 0
    assert db.execute("select count(*) as n from face_persons where event_id = %s", (scene.event,)).fetchone()["n"] == 0
    assert _job(db, running)["status"] == "processing"


def test_a_failure_is_recorded_and_exits_non_zero(db, monkeypatch: pytest.MonkeyPatch, callbacks) -> None:
    scene = Scene(db)

    def broken(*args, **kwargs):
        raise RuntimeError("embeddings of mixed dimensions")

    monkeypatch.setattr(job_run, "cluster_event", broken)
    job_id = create_cluster_job(db, scene.event, "yunet-dlib", priority=1, max_attempts=3)
    assert job.main(["--event-id", str(scene.event), "--job-id", str(job_id)]) == 1
    row = _job(db, job_id)
    assert row["status"] == "failed" and "embeddings of mixed dimensions" in row["error"]
    assert callbacks[-1]["body"]["status"] == "failed"


def test_unknown_job_and_missing_event_id_fail(db, monkeypatch: pytest.MonkeyPatch) -> None:
    scene = Scene(db)
    assert job.main(["--event-id", str(scene.event), "--job-id", str(uuid.uuid4())]) == 1
    monkeypatch.delenv("EVENT_ID", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        job.main([])
    assert exit_info.value.code == 2


def test_a_job_out_of_attempts_fails_for_good(db) -> None:
    scene = Scene(db)
    job_id = create_cluster_job(db, scene.event, "yunet-dlib", priority=1, max_attempts=1)
    # Its only worker died holding it: the lease expired with the attempt used.
    db.execute("update ml_jobs set status = 'processing', attempts = 1, locked_by = 'dead',"
               " lease_expires_at = now() - interval '1 minute' where id = %s", (job_id,))
    assert job.main(["--event-id", str(scene.event), "--job-id", str(job_id)]) == 1
    assert _job(db, job_id)["status"] == "failed"
