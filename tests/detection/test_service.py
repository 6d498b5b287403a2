"""The detection service through its HTTP target (Flask test client), on a real database,
real models and photos, a Supabase Storage stand-in and a callback recorder."""

from __future__ import annotations

import io
import json
import logging
import uuid
from pathlib import Path

import psycopg
import pytest
from flask.testing import FlaskClient

from shared.db.connection import connect
from shared.face_analysis.packs import get_pack
from shared.log import JsonFormatter
from tests.detection.conftest import (
    BUCKET,
    MODEL,
    database_down,
    database_name,
    face_count,
    job_row,
    make_detect_job,
    push_envelope,
)
from tests.support.callbacks import CallbackRecorder
from tests.support.supabase_storage import SupabaseStorageStandIn


def test_happy_path_stores_faces_completes_job_and_signals(
        client: FlaskClient, db: psycopg.Connection, stored_photo: str, detect_env: CallbackRecorder) -> None:
    case = make_detect_job(db, stored_photo)

    response = client.post("/", json=case.envelope)

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["status"] == "completed" and body["faces"] == 4 and body["model"] == MODEL
    job = job_row(db, case.job_id)
    assert job["status"] == "completed" and job["attempts"] == 1
    assert job["result"] == {"faces": 4, "width": 1366, "height": 768, "model": MODEL}
    assert job["started_at"] is not None and job["completed_at"] >= job["started_at"]
    assert job["lease_expires_at"] is None and job["error"] is None
    faces = db.execute("select * from faces where media_id = %s", (case.media_id,)).fetchall()
    assert len(faces) == 4
    for face in faces:
        assert face["event_id"] == case.event_id and face["model"] == MODEL and face["person_id"] is None
        assert len(face["bbox"]) == 4 and len(face["landmarks"]) == 10
        embedding = face["embedding"].to_numpy()
        assert embedding.shape == (get_pack(MODEL).embedding_dim,) and abs(float((embedding**2).sum()) - 1) < 1e-3
        assert face["thumbnail"][:2] == b"\xff\xd8"
    analysis = db.execute("select * from media_analyses where media_id = %s", (case.media_id,)).fetchone()
    assert (analysis["face_count"], analysis["width"], analysis["height"]) == (4, 1366, 768)
    [callback] = detect_env.wait_for(1)
    assert callback == {"job_id": str(case.job_id), "job_type": "detect", "event_id": str(case.event_id),
                        "media_id": str(case.media_id), "status": "completed", "result": job["result"],
                        "error": None}


def test_duplicate_delivery_leaves_one_set_of_faces(client: FlaskClient, db: psycopg.Connection,
                                                    stored_photo: str, detect_env: CallbackRecorder,
                                                    supabase_storage: SupabaseStorageStandIn) -> None:
    case = make_detect_job(db, stored_photo)
    first = client.post("/", json=case.envelope)
    second = client.post("/", json=case.envelope)

    assert first.status_code == second.status_code == 200
    assert second.get_json() == {"status": "duplicate", "job_status": "completed"}
    assert face_count(db, case.media_id) == 4
    assert job_row(db, case.job_id)["attempts"] == 1
    assert supabase_storage.downloads == 1          # the duplicate did no work
    assert len(detect_env.wait_for(1)) == 1


def test_new_job_for_media_already_analysed_reuses_its_faces(client: FlaskClient, db: psycopg.Connection,
                                                             stored_photo: str,
                                                             supabase_storage: SupabaseStorageStandIn) -> None:
    case = make_detect_job(db, stored_photo)
    assert client.post("/", json=case.envelope).status_code == 200
    again = db.execute("insert into ml_jobs (job_type, event_id, media_id, model) values ('detect', %s, %s, %s) "
                       "returning id", (case.event_id, case.media_id, MODEL)).fetchone()["id"]
    message = case.message.__class__(**{**case.message.__dict__, "job_id": again})

    response = client.post("/", json=push_envelope(message.to_bytes()))

    assert response.get_json()["status"] == "completed" and response.get_json()["faces"] == 4
    assert job_row(db, again)["result"]["faces"] == 4
    assert face_count(db, case.media_id) == 4 and supabase_storage.downloads == 1


def _truncated(photo: bytes) -> bytes:
    return photo[: len(photo) // 3]


@pytest.mark.parametrize(("content", "code"), [
    (_truncated, "truncated"),
    (lambda photo: b"these are not the pixels you are looking for\n" * 50, "not_an_image"),
])
def test_bad_image_fails_the_job_for_good(client: FlaskClient, db: psycopg.Connection, tmp_path: Path,
                                          detect_env: CallbackRecorder, group_photo: bytes, content, code) -> None:
    path = tmp_path / "upload.jpg"
    path.write_bytes(content(group_photo))
    case = make_detect_job(db, path.as_uri())

    response = client.post("/", json=case.envelope)

    assert response.status_code == 200                 # acknowledged: never redelivered
    assert response.get_json()["status"] == "failed" and response.get_json()["error"].startswith(f"{code}:")
    job = job_row(db, case.job_id)
    assert job["status"] == "failed" and job["error"].startswith(f"{code}:") and job["completed_at"] is not None
    assert face_count(db, case.media_id) == 0
    [callback] = detect_env.wait_for(1)
    assert callback["status"] == "failed" and callback["error"] == job["error"]


def test_missing_object_fails_the_job(client: FlaskClient, db: psycopg.Connection,
                                      supabase_storage: SupabaseStorageStandIn) -> None:
    case = make_detect_job(db, f"storage://{BUCKET}/events/e1/never-uploaded.jpg")
    response = client.post("/", json=case.envelope)
    assert response.status_code == 200 and response.get_json()["error"].startswith("not_found:")
    assert job_row(db, case.job_id)["status"] == "failed"


def test_signed_url_in_the_media_row_is_refused_without_a_request(
        client: FlaskClient, db: psycopg.Connection, supabase_storage: SupabaseStorageStandIn,
        group_photo: bytes) -> None:
    supabase_storage.put(BUCKET, "a.jpg", group_photo)
    case = make_detect_job(db, supabase_storage.signed_url(BUCKET, "a.jpg"))   # http://127.0.0.1:<port>/...
    response = client.post("/", json=case.envelope)
    assert response.status_code == 200
    error = job_row(db, case.job_id)["error"]
    assert error.startswith("location_refused: rule scheme:") and "token=" not in error
    assert supabase_storage.downloads == 0


def test_html_error_page_instead_of_image_fails_the_job(client: FlaskClient, db: psycopg.Connection,
                                                        stored_photo: str,
                                                        supabase_storage: SupabaseStorageStandIn) -> None:
    supabase_storage.answer_next_download(200, b"<html><body>Access denied</body></html>", "text/html")
    case = make_detect_job(db, stored_photo)
    response = client.post("/", json=case.envelope)
    assert response.status_code == 200 and job_row(db, case.job_id)["error"].startswith("error_body:")


def test_disabled_event_is_acknowledged_without_work(client: FlaskClient, db: psycopg.Connection, stored_photo: str,
                                                     supabase_storage: SupabaseStorageStandIn,
                                                     detect_env: CallbackRecorder) -> None:
    case = make_detect_job(db, stored_photo, enabled=False)
    response = client.post("/", json=case.envelope)
    assert response.status_code == 200 and response.get_json()["status"] == "skipped"
    job = job_row(db, case.job_id)
    assert job["status"] == "failed" and job["error"] == "skipped: face recognition disabled for this event"
    assert supabase_storage.downloads == 0 and face_count(db, case.media_id) == 0
    assert detect_env.wait_for(1)[0]["status"] == "failed"


def test_event_disabled_during_analysis_stores_nothing(client: FlaskClient, db: psycopg.Connection,
                                                       stored_photo: str,
                                                       supabase_storage: SupabaseStorageStandIn) -> None:
    case = make_detect_job(db, stored_photo)
    supabase_storage.before_download = lambda: db.execute(
        "update events set face_recognition_enabled = false where id = %s", (case.event_id,))
    response = client.post("/", json=case.envelope)
    assert response.get_json()["status"] == "skipped"
    assert face_count(db, case.media_id) == 0
    assert db.execute("select count(*) as n from media_analyses").fetchone()["n"] == 0


def test_storage_outage_is_retried_and_then_succeeds(client: FlaskClient, db: psycopg.Connection, stored_photo: str,
                                                     supabase_storage: SupabaseStorageStandIn) -> None:
    case = make_detect_job(db, stored_photo)
    supabase_storage.answer_next_download(503, b'{"statusCode": "503", "error": "unavailable"}', "application/json")

    first = client.post("/", json=case.envelope)
    assert first.status_code == 503
    job = job_row(db, case.job_id)
    assert (job["status"], job["attempts"], job["locked_by"]) == ("pending", 1, None)  # lease given back at once
    assert "storage unavailable" in job["error"]

    second = client.post("/", json=case.envelope)
    assert second.status_code == 200 and second.get_json()["status"] == "completed"
    assert job_row(db, case.job_id)["attempts"] == 2 and face_count(db, case.media_id) == 4


def test_transient_failure_on_the_last_attempt_fails_the_job(client: FlaskClient, db: psycopg.Connection,
                                                             stored_photo: str, detect_env: CallbackRecorder,
                                                             supabase_storage: SupabaseStorageStandIn) -> None:
    case = make_detect_job(db, stored_photo, max_attempts=1)
    supabase_storage.answer_next_download(502, b"", "text/plain")
    assert client.post("/", json=case.envelope).status_code == 503   # Pub/Sub still redelivers ...
    assert job_row(db, case.job_id)["status"] == "failed"
    assert detect_env.wait_for(1)[0]["status"] == "failed"
    redelivered = client.post("/", json=case.envelope)                # ... and the redelivery is acknowledged
    assert redelivered.status_code == 200 and redelivered.get_json()["status"] == "duplicate"


def test_database_down_answers_503_then_redelivery_succeeds(client: FlaskClient, database_url: str,
                                                            postgres_server_url: str, stored_photo: str) -> None:
    with connect(database_url, autocommit=True) as conn:
        warm_up = make_detect_job(conn, stored_photo)
        case = make_detect_job(conn, stored_photo)
    assert client.post("/", json=warm_up.envelope).status_code == 200   # the service's pool is connected

    with database_down(postgres_server_url, database_name(database_url)):
        response = client.post("/", json=case.envelope)
        assert response.status_code == 503 and response.get_json()["status"] == "retry"

    # Redeliver as Pub/Sub does until acknowledged: each pooled connection the outage cut fails once.
    for _ in range(5):
        redelivered = client.post("/", json=case.envelope)
        if redelivered.status_code != 503:
            break
    assert redelivered.status_code == 200 and redelivered.get_json()["status"] == "completed"
    with connect(database_url, autocommit=True) as conn:
        assert face_count(conn, case.media_id) == 4 and job_row(conn, case.job_id)["attempts"] == 1


def test_job_leased_elsewhere_is_retried_and_expired_lease_is_taken_over(
        client: FlaskClient, db: psycopg.Connection, stored_photo: str) -> None:
    case = make_detect_job(db, stored_photo)
    db.execute("update ml_jobs set status = 'processing', attempts = 1, locked_by = 'other-worker', "
               "lease_expires_at = now() + interval '5 minutes' where id = %s", (case.job_id,))
    busy = client.post("/", json=case.envelope)
    assert busy.status_code == 503 and busy.get_json()["status"] == "busy"

    # The other worker was killed: its lease runs out and the next delivery takes the job over.
    db.execute("update ml_jobs set lease_expires_at = now() - interval '1 second' where id = %s", (case.job_id,))
    taken_over = client.post("/", json=case.envelope)
    assert taken_over.status_code == 200 and taken_over.get_json()["status"] == "completed"
    assert job_row(db, case.job_id)["attempts"] == 2 and face_count(db, case.media_id) == 4


def test_job_out_of_attempts_is_failed_and_acknowledged(client: FlaskClient, db: psycopg.Connection,
                                                        stored_photo: str, detect_env: CallbackRecorder) -> None:
    case = make_detect_job(db, stored_photo, max_attempts=2)
    db.execute("update ml_jobs set status = 'processing', attempts = 2, locked_by = 'dead-worker', "
               "lease_expires_at = now() - interval '1 second' where id = %s", (case.job_id,))
    response = client.post("/", json=case.envelope)
    assert response.status_code == 200 and response.get_json()["status"] == "failed"
    assert job_row(db, case.job_id)["status"] == "failed"
    assert detect_env.wait_for(1)[0]["error"].startswith("gave up after 2 attempts")


def test_unknown_job_is_acknowledged(client: FlaskClient, db: psycopg.Connection, stored_photo: str) -> None:
    case = make_detect_job(db, stored_photo)
    db.execute("delete from ml_jobs where id = %s", (case.job_id,))
    response = client.post("/", json=case.envelope)
    assert response.status_code == 200 and response.get_json()["status"] == "ignored"


def test_message_that_disagrees_with_its_job_is_rejected(client: FlaskClient, db: psycopg.Connection,
                                                         stored_photo: str) -> None:
    case = make_detect_job(db, stored_photo)
    forged = case.message.__class__(**{**case.message.__dict__, "media_id": uuid.uuid4()})
    response = client.post("/", json=push_envelope(forged.to_bytes()))
    assert response.status_code == 400 and "message names media" in response.get_json()["error"]
    job = job_row(db, case.job_id)
    assert (job["status"], job["attempts"]) == ("pending", 0)


@pytest.mark.parametrize(("body", "complaint"), [
    ({"subscription": "s"}, "no 'message' object"),
    ({"message": {"data": "***"}}, "not valid base64"),
    (push_envelope(b"{not json"), "not JSON"),
    (push_envelope(json.dumps({"version": 1, "event_id": str(uuid.uuid4())}).encode()), "job_id: not a UUID"),
    (push_envelope(json.dumps({"job_id": "x", "event_id": "y", "media_id": "z", "image": "gs://b/o",
                               "model": MODEL, "priority": "high"}).encode()), "unknown field(s): priority"),
    (push_envelope(json.dumps({"version": 2}).encode()), "unsupported message version"),
    ({"specversion": "1.0", "type": "google.cloud.storage.object.v1.finalized", "data": {}}, "is not google.cloud"),
    ([1, 2, 3], "must be a JSON object"),
])
def test_malformed_delivery_is_rejected_with_the_reason(client: FlaskClient, body: object, complaint: str) -> None:
    response = client.post("/", json=body)
    assert response.status_code == 400
    assert complaint in response.get_json()["error"]


def test_cloudevent_forms_are_accepted(client: FlaskClient, db: psycopg.Connection, stored_photo: str) -> None:
    structured = make_detect_job(db, stored_photo)
    event = {"specversion": "1.0", "type": "google.cloud.pubsub.topic.v1.messagePublished",
             "source": "//pubsub.googleapis.com/projects/p/topics/ml-detect", "id": "1",
             "datacontenttype": "application/json", "data": structured.envelope}
    response = client.post("/", data=json.dumps(event), content_type="application/cloudevents+json")
    assert response.status_code == 200 and response.get_json()["status"] == "completed"

    binary = make_detect_job(db, stored_photo)
    headers = {"ce-specversion": "1.0", "ce-type": "google.cloud.pubsub.topic.v1.messagePublished",
               "ce-source": "//pubsub.googleapis.com/projects/p/topics/ml-detect", "ce-id": "2"}
    response = client.post("/", json=binary.envelope, headers=headers)
    assert response.status_code == 200 and response.get_json()["status"] == "completed"


def test_failing_callback_is_retried_and_the_database_keeps_the_outcome(
        client: FlaskClient, db: psycopg.Connection, stored_photo: str, detect_env: CallbackRecorder) -> None:
    detect_env.fail_next = 2
    case = make_detect_job(db, stored_photo)
    assert client.post("/", json=case.envelope).status_code == 200
    assert detect_env.wait_for(1)[0]["job_id"] == str(case.job_id) and detect_env.refused == 2
    assert job_row(db, case.job_id)["status"] == "completed"


def test_health_reports_the_model_loaded_after_the_first_image(client: FlaskClient, db: psycopg.Connection,
                                                                stored_photo: str, monkeypatch) -> None:
    # As in a new instance: no analyser yet (others in this process were shared by earlier tests).
    from shared.face_analysis import analyzer as analyzer_module

    monkeypatch.setattr(analyzer_module, "_shared", {})
    before = client.get("/health")
    assert before.status_code == 200
    assert before.get_json() == {"status": "healthy", "version": "0.1.0", "model_loaded": False,
                                 "gpu_available": False}
    assert client.post("/", json=make_detect_job(db, stored_photo).envelope).status_code == 200
    assert client.get("/health").get_json()["model_loaded"] is True


def test_logs_are_json_lines_with_the_ids_and_the_guide_messages(client: FlaskClient, db: psycopg.Connection,
                                                                  stored_photo: str) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logging.getLogger().addHandler(handler)
    try:
        case = make_detect_job(db, stored_photo)
        assert client.post("/", json=case.envelope).status_code == 200
    finally:
        logging.getLogger().removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    mine = [line for line in lines if line.get("job_id") == str(case.job_id)]
    messages = [line["message"] for line in mine]
    assert f"Processing media {case.media_id} for job {case.job_id}" in messages
    assert "Detected 4 faces" in messages
    assert all(line["media_id"] == str(case.media_id) and line["severity"] for line in mine)


def test_new_faces_join_known_persons_right_away(client: FlaskClient, db: psycopg.Connection,
                                                 stored_photo: str) -> None:
    first = make_detect_job(db, stored_photo)
    assert client.post("/", json=first.envelope).status_code == 200
    # A clustering run made each face of the first photo a person of its own.
    persons = set()
    for face in db.execute("select id from faces where media_id = %s", (first.media_id,)).fetchall():
        person = db.execute("insert into face_persons (event_id, model, face_count, representative_face_id) "
                            "values (%s, %s, 1, %s) returning id", (first.event_id, MODEL, face["id"])).fetchone()
        db.execute("update faces set person_id = %s, assignment = 'cluster' where id = %s", (person["id"], face["id"]))
        persons.add(person["id"])

    second = make_detect_job(db, stored_photo, event_id=first.event_id)   # the same four people again
    assert client.post("/", json=second.envelope).status_code == 200

    faces = db.execute("select person_id, assignment from faces where media_id = %s", (second.media_id,)).fetchall()
    assert {face["person_id"] for face in faces} == persons
    assert {face["assignment"] for face in faces} == {"incremental"}


def test_job_for_a_pack_whose_files_are_not_here_fails(client: FlaskClient, db: psycopg.Connection,
                                                         stored_photo: str) -> None:
    """A new event takes the job's pack; the service loads it on first use, and cannot without its files."""
    case = make_detect_job(db, stored_photo)
    db.execute("update ml_jobs set model = 'buffalo_l' where id = %s", (case.job_id,))
    message = case.message.__class__(**{**case.message.__dict__, "model": "buffalo_l"})
    response = client.post("/", json=push_envelope(message.to_bytes()))
    assert response.status_code == 200 and response.get_json()["status"] == "failed"
    error = job_row(db, case.job_id)["error"]
    assert error.startswith("model_unavailable: model file") and "facecluster models fetch buffalo_l" in error
    assert db.execute("select count(*) as n from faces").fetchone()["n"] == 0
