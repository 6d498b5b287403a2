"""ml-callback: the secret, the clustering rule, exactly one run under concurrent callbacks, the sweep."""

from __future__ import annotations

import os
import threading
import uuid

import pytest

from shared.db.ml_jobs import ClusterState
from shared.pipeline.cluster_launch import use_cluster_runner
from shared.pipeline.cluster_trigger import decide
from shared.pipeline.job_signal import JobOutcome, send_callback
from shared.pipeline.messages import DetectMessage
from shared.settings import Settings
from tests.factories import make_event, make_media
from tests.functions.conftest import CALLBACK_SECRET, function_client
from tests.functions.world import MODEL, add_face, add_person
from tests.support.loopback import serve_wsgi


def detected_event(db, media: int, analysed: int, faces_per_media: int) -> uuid.UUID:
    """An event whose first ``analysed`` media went through detection with that many (unassigned) faces each."""
    event_id = make_event(db)
    for i in range(media):
        media_id = make_media(db, event_id)
        if i < analysed:
            db.execute("insert into media_analyses (media_id, model, event_id, face_count) values (%s, %s, %s, %s)",
                       (media_id, MODEL, event_id, faces_per_media))
            for _ in range(faces_per_media):
                add_face(db, event_id, media_id, None)
    return event_id


def _callback(api, event_id, *, job_type="detect", status="completed", secret=CALLBACK_SECRET, header="bearer"):
    body = {"job_id": str(uuid.uuid4()), "job_type": job_type, "event_id": str(event_id),
            "media_id": str(uuid.uuid4()) if job_type == "detect" else None, "status": status,
            "result": {"faces": 1}, "error": None}
    headers = {"X-Callback-Secret": secret} if header == "x-callback-secret" else (
        {"Authorization": f"Bearer {secret}"} if secret is not None else {})
    return api.call(body, headers=headers)


def _cluster_jobs(db, event_id) -> list:
    return db.execute("select * from ml_jobs where event_id = %s and job_type = 'cluster' order by created_at",
                      (event_id,)).fetchall()


def test_a_wrong_or_missing_secret_is_401(db, callback_api, runner) -> None:
    event_id = detected_event(db, 2, 2, 1)
    for secret in (None, "wrong", CALLBACK_SECRET + "x"):
        response = _callback(callback_api, event_id, secret=secret)
        assert response.status_code == 401 and response.get_json()["error"]["code"] == "invalid_secret"
    assert _callback(callback_api, event_id, header="x-callback-secret").status_code == 200
    bad = callback_api.call({"job_type": "detect", "event_id": "x", "status": "completed"},
                            headers={"Authorization": f"Bearer {CALLBACK_SECRET}"})
    assert bad.status_code == 400 and bad.get_json()["error"]["field"] == "event_id"


def test_first_clustering_waits_for_ten_faces_and_eighty_percent_of_media(db, callback_api, runner) -> None:
    too_few_faces = detected_event(db, 10, 9, 1)
    assert _callback(callback_api, too_few_faces).get_json()["cluster_started"] is False
    too_few_media = detected_event(db, 10, 7, 2)
    assert _callback(callback_api, too_few_media).get_json()["cluster_started"] is False
    # A media whose detection failed for good counts as processed: it must not block clustering.
    failed_media = db.execute("select m.id from media m where m.event_id = %s and not exists"
                              " (select 1 from media_analyses a where a.media_id = m.id) limit 1",
                              (too_few_media,)).fetchone()["id"]
    db.execute("insert into ml_jobs (job_type, event_id, media_id, model, status) values"
               " ('detect', %s, %s, %s, 'failed')", (too_few_media, failed_media, MODEL))
    started = _callback(callback_api, too_few_media).get_json()
    assert started["cluster_started"] is True and started["reason"] == "first clustering"
    [job] = _cluster_jobs(db, too_few_media)
    assert runner.starts == [(too_few_media, job["id"])]
    # Later callbacks while it runs start nothing more.
    assert _callback(callback_api, too_few_media).get_json()["cluster_started"] is False
    assert len(runner.starts) == 1


def test_concurrent_callbacks_start_exactly_one_clustering(db, api_env, runner) -> None:
    event_id = detected_event(db, 12, 12, 1)
    apis = [function_client("ml_callback") for _ in range(8)]
    barrier = threading.Barrier(len(apis))
    responses: list = [None] * len(apis)

    def call(i: int) -> None:
        barrier.wait()
        responses[i] = _callback(apis[i], event_id)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(apis))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert [r.status_code for r in responses] == [200] * len(apis)
    assert sum(r.get_json()["cluster_started"] for r in responses) == 1
    assert len(_cluster_jobs(db, event_id)) == 1 and len(runner.starts) == 1


def test_reclustering_after_enough_new_unassigned_faces(db, callback_api, runner) -> None:
    event_id = detected_event(db, 2, 2, 0)
    media = db.execute("select id from media where event_id = %s", (event_id,)).fetchall()
    add_person(db, event_id, [media[0]["id"]] * 60)
    db.execute("insert into ml_jobs (job_type, event_id, model, status, started_at, completed_at)"
               " values ('cluster', %s, %s, 'completed', now() - interval '1 minute', now())", (event_id, MODEL))
    for _ in range(11):  # 60 assigned faces: needs max(10, 20 % of 60) = 12 new unassigned ones
        add_face(db, event_id, media[1]["id"], None)
    held = _callback(callback_api, event_id, job_type="cluster").get_json()
    assert held["cluster_started"] is False and "< 12" in held["reason"]
    add_face(db, event_id, media[1]["id"], None)
    assert _callback(callback_api, event_id).get_json()["cluster_started"] is True


def test_the_rule_backs_off_after_a_failure_and_never_runs_with_recognition_off() -> None:
    ready = ClusterState(face_recognition_enabled=True, image_media=10, settled_media=10, faces=30,
                         assigned_faces=0, last_clustered_at=None, new_unassigned_faces=30,
                         cluster_in_flight=False, last_failure_age_seconds=None)
    assert decide(ready).start
    assert not decide(ClusterState(**{**ready.__dict__, "last_failure_age_seconds": 60.0})).start
    assert decide(ClusterState(**{**ready.__dict__, "last_failure_age_seconds": 600.0})).start
    assert not decide(ClusterState(**{**ready.__dict__, "face_recognition_enabled": False})).start
    assert not decide(ClusterState(**{**ready.__dict__, "cluster_in_flight": True})).start


def test_sweep_republishes_lost_messages_restarts_dead_runs_and_evaluates_events(
        db, callback_api, runner, detect_topic, pubsub_emulator) -> None:
    _, subscription = detect_topic
    ready = detected_event(db, 10, 10, 1)
    stuck = detected_event(db, 1, 0, 0)
    stuck_media = db.execute("select id, storage_path from media where event_id = %s", (stuck,)).fetchone()
    lost = db.execute("insert into ml_jobs (job_type, event_id, media_id, model, updated_at) values"
                      " ('detect', %s, %s, %s, now() - interval '1 hour') returning id",
                      (stuck, stuck_media["id"], MODEL)).fetchone()["id"]
    dead_run = db.execute("insert into ml_jobs (job_type, event_id, model, status, attempts, lease_expires_at,"
                          " updated_at) values ('cluster', %s, %s, 'processing', 1, now() - interval '1 minute',"
                          " now() - interval '1 hour') returning id", (stuck, MODEL)).fetchone()["id"]
    response = callback_api.call({"type": "sweep"}, headers={"Authorization": f"Bearer {CALLBACK_SECRET}"})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["sweep"] == {"clusters_restarted": 1, "detects_republished": 1,
                                            "inserted_media_published": 0, "events_evaluated": 1,
                                            "clusters_started": 1}
    [new_run] = _cluster_jobs(db, ready)
    assert sorted(runner.starts) == sorted([(stuck, dead_run), (ready, new_run["id"])])
    [message] = pubsub_emulator.pull(subscription)
    republished = DetectMessage.from_bytes(message.message.data)
    assert (republished.job_id, republished.media_id) == (lost, stuck_media["id"])
    # Touched: an immediate second sweep does not repeat the same recoveries.
    again = callback_api.call({"type": "sweep"}, headers={"Authorization": f"Bearer {CALLBACK_SECRET}"}).get_json()
    assert again["sweep"]["clusters_restarted"] == 0 and again["sweep"]["detects_republished"] == 0


def test_a_runner_that_cannot_start_fails_the_job_and_answers_503(db, api_env) -> None:
    class BrokenRunner:
        def start(self, event_id, job_id):
            raise RuntimeError("Cloud Run Jobs API unreachable")

    event_id = detected_event(db, 12, 12, 1)
    with use_cluster_runner(BrokenRunner()):
        response = _callback(function_client("ml_callback"), event_id)
    assert response.status_code == 503 and response.get_json()["error"]["code"] == "cluster_start_failed"
    [job] = _cluster_jobs(db, event_id)
    assert job["status"] == "failed" and "unreachable" in job["error"]


def test_the_workers_callback_client_is_understood_over_http(db, api_env, runner, monkeypatch) -> None:
    """The real ``send_callback`` of the detection service and clustering job, to ml-callback on loopback."""
    event_id = detected_event(db, 12, 12, 1)
    with serve_wsgi(function_client("ml_callback").client.application) as base_url:
        monkeypatch.setenv("CALLBACK_URL", base_url + "/")
        settings = Settings.from_env()
        outcome = JobOutcome(job_id=uuid.uuid4(), job_type="detect", event_id=event_id, status="completed",
                             media_id=uuid.uuid4(), result={"faces": 1})
        assert send_callback(settings, outcome, attempts=1) is True
        wrong = Settings.from_env({**os.environ, "CALLBACK_SECRET": "not-the-secret"})
        assert send_callback(wrong, outcome, attempts=1) is False
    assert len(_cluster_jobs(db, event_id)) == 1 and len(runner.starts) == 1


@pytest.mark.parametrize("header", ["bearer", "x-callback-secret"])
def test_callbacks_are_idempotent(db, callback_api, runner, header) -> None:
    event_id = detected_event(db, 12, 12, 1)
    results = [_callback(callback_api, event_id, header=header).get_json()["cluster_started"] for _ in range(3)]
    assert results == [True, False, False] and len(_cluster_jobs(db, event_id)) == 1
