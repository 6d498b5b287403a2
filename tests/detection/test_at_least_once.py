"""At-least-once delivery: duplicates, concurrent deliveries and killed workers leave exactly one
set of faces per media and model, and nothing half-written."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import psycopg
import pytest
import requests
from flask.testing import FlaskClient

from shared.db.connection import connect
from shared.db.faces import store_media_faces
from shared.face_analysis.packs import get_pack
from shared.settings import REPO_ROOT
from tests.detection.conftest import MODEL, detect_app, face_count, job_row, make_detect_job
from tests.support.callbacks import CallbackRecorder
from tests.support.loopback import serve_wsgi
from tests.support.supabase_storage import SupabaseStorageStandIn


@dataclass(frozen=True)
class StandInFace:
    """A face as the analyser returns it, for tests of the SQL alone."""

    bbox: tuple[float, float, float, float]
    landmarks: tuple[tuple[float, float], ...]
    det_score: float
    quality: float
    embedding: np.ndarray
    thumbnail: bytes | None


def stand_in_faces(count: int, seed: int = 0) -> list[StandInFace]:
    rng = np.random.default_rng(seed)
    faces = []
    for _ in range(count):
        embedding = rng.normal(size=get_pack(MODEL).embedding_dim).astype(np.float32)
        faces.append(StandInFace((10, 20, 110, 140), ((40, 60), (80, 60), (60, 85), (45, 110), (75, 110)),
                                 0.98, 0.8, embedding / np.linalg.norm(embedding), b"\xff\xd8thumb"))
    return faces


@pytest.fixture
def photo_location(supabase_storage: SupabaseStorageStandIn, group_photo: bytes) -> str:
    supabase_storage.put("event-media", "events/e1/group.jpg", group_photo)
    return "storage://event-media/events/e1/group.jpg"


def test_second_store_of_the_same_media_and_model_writes_nothing(db: psycopg.Connection,
                                                                photo_location: str) -> None:
    case = make_detect_job(db, photo_location)
    with connect(db.info.dsn) as conn:
        first = store_media_faces(conn, event_id=case.event_id, media_id=case.media_id, model=MODEL,
                                  width=640, height=480, faces=stand_in_faces(3))
        conn.commit()
        second = store_media_faces(conn, event_id=case.event_id, media_id=case.media_id, model=MODEL,
                                   width=640, height=480, faces=stand_in_faces(5, seed=1))
        conn.commit()
    assert (first.created, len(first.face_ids)) == (True, 3)
    assert (second.created, second.face_ids, second.face_count) == (False, [], 3)
    assert face_count(db, case.media_id) == 3
    # Another model is another analysis: its faces coexist with the first model's.
    with connect(db.info.dsn) as conn:
        other = store_media_faces(conn, event_id=case.event_id, media_id=case.media_id, model="buffalo_l",
                                  width=640, height=480, faces=stand_in_faces(2))
        conn.commit()
    assert other.created and face_count(db, case.media_id) == 5


def test_concurrent_stores_write_one_set(db: psycopg.Connection, photo_location: str) -> None:
    """The second writer waits on the first's analysis row and, once it commits, writes nothing."""
    case = make_detect_job(db, photo_location)
    kwargs = {"event_id": case.event_id, "media_id": case.media_id, "model": MODEL, "width": 640, "height": 480}
    first_conn, second_conn = connect(db.info.dsn), connect(db.info.dsn)
    try:
        first = store_media_faces(first_conn, faces=stand_in_faces(3), **kwargs)   # uncommitted
        with ThreadPoolExecutor(1) as pool:
            second_future = pool.submit(store_media_faces, second_conn, faces=stand_in_faces(4, seed=1), **kwargs)
            _wait_until_blocked(db, second_conn.info.backend_pid)
            first_conn.commit()
            second = second_future.result(timeout=10)
        second_conn.commit()
    finally:
        first_conn.close()
        second_conn.close()
    assert first.created and not second.created
    assert face_count(db, case.media_id) == 3


def _wait_until_blocked(db: psycopg.Connection, pid: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = db.execute("select wait_event_type from pg_stat_activity where pid = %s", (pid,)).fetchone()
        if row and row["wait_event_type"] == "Lock":
            return
        time.sleep(0.02)
    raise AssertionError("the second writer never waited for the first")


def test_concurrent_deliveries_through_the_service(detect_env: CallbackRecorder, db: psycopg.Connection,
                                                   photo_location: str) -> None:
    case = make_detect_job(db, photo_location)
    app = detect_app()
    start = threading.Barrier(3)

    def deliver(url: str) -> requests.Response:
        start.wait()
        return requests.post(url, json=case.envelope, timeout=60)

    with serve_wsgi(app) as url, ThreadPoolExecutor(3) as pool:
        answers = list(pool.map(deliver, [url] * 3))
        statuses = sorted(answer.json()["status"] for answer in answers)
        # Pub/Sub redelivers what was not acknowledged; by then the job is done.
        redelivered = [requests.post(url, json=case.envelope, timeout=60) for a in answers if a.status_code == 503]

    assert statuses.count("completed") == 1
    assert set(statuses) <= {"completed", "busy", "duplicate"}
    assert all(a.status_code == 200 and a.json()["status"] == "duplicate" for a in redelivered)
    assert face_count(db, case.media_id) == 4
    assert db.execute("select count(*) as n from media_analyses where media_id = %s",
                      (case.media_id,)).fetchone()["n"] == 1
    assert len(detect_env.wait_for(1)) == 1


_DOOMED_WORKER = """
import os, signal, sys, uuid
sys.path.insert(0, sys.argv[5])
from shared.db.connection import connect
from shared.db.faces import store_media_faces
from shared.db.ml_jobs import claim_job
from tests.detection.test_at_least_once import MODEL, stand_in_faces

url, event_id, media_id, job_id = sys.argv[1:5]
with connect(url) as conn:
    claim_job(conn, uuid.UUID(job_id), "doomed-worker", 600)
    conn.commit()
    store_media_faces(conn, event_id=uuid.UUID(event_id), media_id=uuid.UUID(media_id), model=MODEL,
                      width=1366, height=768, faces=stand_in_faces(2))
    os.kill(os.getpid(), signal.SIGKILL)   # killed mid-image: faces written, transaction not committed
"""


def test_worker_killed_mid_image_leaves_nothing_and_the_job_is_taken_over(
        client: FlaskClient, db: psycopg.Connection, database_url: str, photo_location: str) -> None:
    case = make_detect_job(db, photo_location)
    doomed = subprocess.run([sys.executable, "-c", _DOOMED_WORKER, database_url, str(case.event_id),
                             str(case.media_id), str(case.job_id), str(REPO_ROOT)], timeout=60)
    assert doomed.returncode == -signal.SIGKILL

    assert face_count(db, case.media_id) == 0
    assert db.execute("select count(*) as n from media_analyses").fetchone()["n"] == 0
    job = job_row(db, case.job_id)
    assert (job["status"], job["locked_by"], job["attempts"]) == ("processing", "doomed-worker", 1)

    busy = client.post("/", json=case.envelope)          # while the dead worker's lease runs
    assert busy.status_code == 503
    db.execute("update ml_jobs set lease_expires_at = now() - interval '1 second' where id = %s", (case.job_id,))
    taken_over = client.post("/", json=case.envelope)    # the lease expired: picked up again
    assert taken_over.status_code == 200 and taken_over.get_json()["status"] == "completed"
    assert face_count(db, case.media_id) == 4 and job_row(db, case.job_id)["attempts"] == 2


def test_delivery_that_lost_its_lease_midway_leaves_one_set(client: FlaskClient, db: psycopg.Connection,
                                                            photo_location: str,
                                                            supabase_storage: SupabaseStorageStandIn) -> None:
    """A slow first delivery outlives its lease; a second one takes the job over and finishes first."""
    case = make_detect_job(db, photo_location)
    second: list = []

    def lease_runs_out_and_a_redelivery_runs() -> None:
        supabase_storage.before_download = None
        db.execute("update ml_jobs set lease_expires_at = now() - interval '1 second' where id = %s",
                   (case.job_id,))
        second.append(client.post("/", json=case.envelope))

    supabase_storage.before_download = lease_runs_out_and_a_redelivery_runs
    first = client.post("/", json=case.envelope)

    assert second[0].status_code == 200 and second[0].get_json()["status"] == "completed"
    assert first.status_code == 200 and first.get_json()["status"] == "duplicate"
    assert face_count(db, case.media_id) == 4
    job = job_row(db, case.job_id)
    assert (job["status"], job["attempts"]) == ("completed", 2)
