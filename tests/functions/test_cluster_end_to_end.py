"""Detection callbacks → ml-callback → the real clustering job as a local subprocess → persons, and its callback."""

from __future__ import annotations

import time
import uuid

import numpy as np
import psutil

from tests.factories import make_event, make_media
from tests.functions.conftest import CALLBACK_SECRET, function_client
from tests.functions.world import MODEL, add_face, check_invariants
from tests.support.loopback import serve_wsgi

IDENTITIES = 3
FACES_EACH = 4


def _event_with_three_people(db) -> uuid.UUID:
    """Each of three people on four photos; embeddings near one random direction per person."""
    rng = np.random.default_rng(7)
    centres = rng.normal(size=(IDENTITIES, 128))
    event_id = make_event(db)
    for _ in range(FACES_EACH):
        media_id = make_media(db, event_id)
        db.execute("insert into media_analyses (media_id, model, event_id, face_count) values (%s, %s, %s, %s)",
                   (media_id, MODEL, event_id, IDENTITIES))
        for centre in centres:
            vector = centre / np.linalg.norm(centre) + rng.normal(scale=0.01, size=128)
            add_face(db, event_id, media_id, None, embedding=(vector / np.linalg.norm(vector)).tolist())
    return event_id


def _wait_for_cluster_job(db, event_id, timeout: float = 240.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        job = db.execute("select * from ml_jobs where event_id = %s and job_type = 'cluster'", (event_id,)).fetchone()
        if job is not None and job["status"] in ("completed", "failed"):
            return job
        assert time.monotonic() < deadline, f"the clustering job did not finish: {job}"
        time.sleep(0.5)


def _wait_for_exit_of_job_process(job_id: uuid.UUID, timeout: float = 60.0) -> None:
    """The job process sends its callback after completing the row; let it finish before the server stops."""
    deadline = time.monotonic() + timeout
    while any(str(job_id) in " ".join(p.info["cmdline"] or ()) for p in psutil.process_iter(["cmdline"])):
        assert time.monotonic() < deadline, "the clustering job process did not exit"
        time.sleep(0.2)


def test_a_detection_callback_starts_the_local_clustering_job_once(db, api_env, monkeypatch) -> None:
    monkeypatch.setenv("CLUSTER_RUNNER", "local")
    event_id = _event_with_three_people(db)
    with serve_wsgi(function_client("ml_callback").client.application) as base_url:
        monkeypatch.setenv("CALLBACK_URL", base_url + "/")  # the job's own completion callback comes here
        callback = function_client("ml_callback")
        body = {"job_id": str(uuid.uuid4()), "job_type": "detect", "event_id": str(event_id),
                "media_id": str(uuid.uuid4()), "status": "completed", "result": {"faces": 3}, "error": None}
        headers = {"Authorization": f"Bearer {CALLBACK_SECRET}"}
        first = callback.call(body, headers=headers).get_json()
        assert first["cluster_started"] is True, first
        assert callback.call(body, headers=headers).get_json()["cluster_started"] is False
        job = _wait_for_cluster_job(db, event_id)
        _wait_for_exit_of_job_process(job["id"])
    assert job["status"] == "completed", job["error"]
    persons = db.execute("select face_count from face_persons where event_id = %s and status = 'active'",
                         (event_id,)).fetchall()
    assert sorted(p["face_count"] for p in persons) == [FACES_EACH] * IDENTITIES
    assert db.execute("select count(*) as n from ml_jobs where job_type = 'cluster'").fetchone()["n"] == 1
    check_invariants(db, event_id)
