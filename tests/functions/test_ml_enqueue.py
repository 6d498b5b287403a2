"""ml-enqueue: detect jobs published through the real Pub/Sub emulator, clustering started once."""

from __future__ import annotations

import http.server
import json
import threading
import uuid

import pytest
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import run_v2

from shared.pipeline.cluster_launch import CloudRunClusterRunner, cluster_job_args
from shared.pipeline.messages import DetectMessage
from shared.settings import Settings
from tests.factories import make_event, make_media
from tests.functions.world import MODEL, add_face


@pytest.fixture
def event(db, api_env):
    organiser, member = uuid.uuid4(), uuid.uuid4()
    event_id = make_event(db, owner_id=organiser)
    db.execute("insert into event_members (event_id, user_id) values (%s, %s)", (event_id, member))
    media = [make_media(db, event_id) for _ in range(3)]
    db.execute("insert into media (event_id, storage_path, mime_type) values (%s, 'v.mp4', 'video/mp4')", (event_id,))
    return {"id": event_id, "organiser": organiser, "member": member, "media": media}


def _detect(api, event, **extra):
    return api.call({"type": "detect", "event_id": str(event["id"]), **extra}, user=event["organiser"])


def _jobs(db, event_id, status=None) -> list:
    return db.execute("select * from ml_jobs where event_id = %s and (%s::text is null or status = %s)"
                      " order by created_at", (event_id, status, status)).fetchall()


def test_detect_publishes_one_message_per_unanalysed_media_and_never_duplicates(
        db, enqueue_api, detect_topic, pubsub_emulator, event) -> None:
    _, subscription = detect_topic
    analysed = event["media"][0]
    db.execute("insert into media_analyses (media_id, model, event_id, face_count) values (%s, %s, %s, 0)",
               (analysed, MODEL, event["id"]))
    response = _detect(enqueue_api, event, priority="high")
    assert response.status_code == 202, response.get_json()
    body = response.get_json()
    assert (body["jobs_created"], body["skipped_analysed"], body["already_in_flight"]) == (2, 1, 0)
    jobs = _jobs(db, event["id"])
    assert {j["media_id"] for j in jobs} == set(event["media"][1:]) and {j["priority"] for j in jobs} == {2}
    received = []
    while len(received) < 2:
        batch = pubsub_emulator.pull(subscription)
        assert batch, "the detection messages did not arrive"
        received += batch
    messages = {DetectMessage.from_bytes(m.message.data) for m in received}
    paths = {r["id"]: r["storage_path"] for r in db.execute("select id, storage_path from media")}
    assert {(m.job_id, m.media_id, m.model) for m in messages} == {(j["id"], j["media_id"], MODEL) for j in jobs}
    for message in messages:
        assert message.image == f"storage://event-media/{paths[message.media_id]}"
    again = _detect(enqueue_api, event).get_json()
    assert (again["jobs_created"], again["already_in_flight"]) == (0, 2)
    assert len(_jobs(db, event["id"])) == 2


def test_force_reanalyses_media_already_processed(db, enqueue_api, detect_topic, event) -> None:
    analysed = event["media"][0]
    db.execute("insert into media_analyses (media_id, model, event_id, face_count) values (%s, %s, %s, 1)",
               (analysed, MODEL, event["id"]))
    add_face(db, event["id"], analysed, None)
    body = _detect(enqueue_api, event, media_ids=[str(analysed)], force=True).get_json()
    assert (body["jobs_created"], body["reanalysed"]) == (1, 1)
    assert db.execute("select count(*) as n from faces where media_id = %s", (analysed,)).fetchone()["n"] == 0
    assert db.execute("select count(*) as n from media_analyses where media_id = %s",
                      (analysed,)).fetchone()["n"] == 0


def test_a_failed_publish_fails_its_jobs_and_a_retry_recreates_them(
        db, enqueue_api, detect_topic, pubsub_emulator, monkeypatch, event) -> None:
    monkeypatch.setenv("PUBSUB_TOPIC", "topic-that-does-not-exist")
    response = _detect(enqueue_api, event)
    assert response.status_code == 503 and response.get_json()["error"]["code"] == "publish_failed"
    assert {j["status"] for j in _jobs(db, event["id"])} == {"failed"}
    monkeypatch.setenv("PUBSUB_TOPIC", detect_topic[0].rsplit("/", 1)[1])
    retried = _detect(enqueue_api, event)
    assert retried.status_code == 202 and retried.get_json()["jobs_created"] == 3
    assert len(_jobs(db, event["id"], "pending")) == 3


def test_refusals(db, enqueue_api, event) -> None:
    unknown = _detect(enqueue_api, event, media_ids=[str(uuid.uuid4())])
    assert unknown.status_code == 400 and unknown.get_json()["error"]["field"] == "media_ids"
    bad_priority = _detect(enqueue_api, event, priority="urgent")
    assert bad_priority.status_code == 400 and bad_priority.get_json()["error"]["field"] == "priority"
    member = enqueue_api.call({"type": "detect", "event_id": str(event["id"])}, user=event["member"])
    assert member.status_code == 403 and member.get_json()["error"]["code"] == "forbidden"
    db.execute("update events set face_recognition_enabled = false where id = %s", (event["id"],))
    disabled = _detect(enqueue_api, event)
    assert disabled.status_code == 403
    assert disabled.get_json()["error"]["code"] == "face_recognition_disabled"
    assert "face_recognition_enabled" in disabled.get_json()["error"]["message"]
    assert _jobs(db, event["id"]) == []


def test_cluster_starts_one_run_per_event(db, enqueue_api, runner, event) -> None:
    first = enqueue_api.call({"type": "cluster", "event_id": str(event["id"])}, user=event["organiser"])
    assert first.status_code == 202 and first.get_json()["started"] is True
    job = _jobs(db, event["id"])[0]
    assert (job["job_type"], job["status"], job["model"]) == ("cluster", "pending", MODEL)
    assert runner.starts == [(event["id"], job["id"])]
    second = enqueue_api.call({"type": "cluster", "event_id": str(event["id"])}, user=event["organiser"]).get_json()
    assert (second["started"], second["job_id"]) == (False, str(job["id"]))
    assert len(runner.starts) == 1 and len(_jobs(db, event["id"])) == 1


def test_cloud_run_runner_calls_the_jobs_api_with_the_ids_as_args() -> None:
    """The real google-cloud-run client (REST transport) against a loopback stand-in of run.googleapis.com."""
    calls: list[tuple[str, dict]] = []

    class RunApi(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            calls.append((self.path, json.loads(self.rfile.read(int(self.headers["Content-Length"])))))
            body = json.dumps({"name": "projects/p/locations/europe-west1/operations/op-1"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RunApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = run_v2.JobsClient(transport="rest", credentials=AnonymousCredentials(),
                                   client_options=ClientOptions(api_endpoint=f"http://127.0.0.1:{server.server_port}"))
        settings = Settings.from_env({"GOOGLE_CLOUD_PROJECT": "proj", "CLOUD_RUN_REGION": "europe-west1",
                                      "CLUSTER_JOB_NAME": "face-cluster", "CLUSTER_RUNNER": "cloud-run"})
        event_id, job_id = uuid.uuid4(), uuid.uuid4()
        description = CloudRunClusterRunner(settings, client).start(event_id, job_id)
    finally:
        server.shutdown()
        server.server_close()
    assert "op-1" in description
    [(path, body)] = calls
    assert path.split("?")[0] == "/v2/projects/proj/locations/europe-west1/jobs/face-cluster:run"
    assert body["overrides"]["containerOverrides"] == [{"args": cluster_job_args(event_id, job_id)}]
