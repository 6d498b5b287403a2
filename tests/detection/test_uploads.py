"""Event-driven uploads: Cloud Storage object-finalize notifications (objects in the GCS emulator)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from flask.testing import FlaskClient
from google.cloud import storage

from shared.db.ml_jobs import ensure_detect_job
from tests.detection.conftest import MODEL, face_count, push_envelope
from tests.factories import make_event, make_media
from tests.support.callbacks import CallbackRecorder


def finalize_envelope(bucket: str, name: str, event_type: str = "OBJECT_FINALIZE",
                      published: datetime | None = None) -> dict:
    """What a bucket notification (payload format JSON_API_V1) pushes."""
    attributes = {"eventType": event_type, "bucketId": bucket, "objectId": name, "objectGeneration": "1",
                  "payloadFormat": "JSON_API_V1",
                  "notificationConfig": f"projects/_/buckets/{bucket}/notificationConfigs/1"}
    data = f'{{"kind": "storage#object", "bucket": "{bucket}", "name": "{name}"}}'.encode()
    return push_envelope(data, attributes, published)


@pytest.fixture
def uploaded(gcs_bucket: storage.Bucket, group_photo: bytes) -> tuple[str, str]:
    name = "events/e1/IMG_0001.jpg"
    gcs_bucket.blob(name).upload_from_string(group_photo, content_type="image/jpeg")
    return gcs_bucket.name, name


@pytest.mark.parametrize("full_location", [True, False], ids=["gs-path", "object-name"])
def test_upload_into_enabled_event_is_processed(client: FlaskClient, db: psycopg.Connection,
                                                uploaded: tuple[str, str], detect_env: CallbackRecorder,
                                                full_location: bool) -> None:
    bucket, name = uploaded
    event_id = make_event(db, enabled=True)
    media_id = make_media(db, event_id, storage_path=f"gs://{bucket}/{name}" if full_location else name)

    response = client.post("/", json=finalize_envelope(bucket, name))

    assert response.status_code == 200 and response.get_json()["status"] == "completed"
    job = db.execute("select * from ml_jobs where media_id = %s", (media_id,)).fetchone()
    assert (job["job_type"], job["status"], job["model"], job["attempts"]) == ("detect", "completed", MODEL, 1)
    assert job["result"]["faces"] == 4 and face_count(db, media_id) == 4
    assert detect_env.wait_for(1)[0]["job_id"] == str(job["id"])


def test_repeated_notification_does_nothing_more(client: FlaskClient, db: psycopg.Connection,
                                                 uploaded: tuple[str, str]) -> None:
    bucket, name = uploaded
    media_id = make_media(db, make_event(db), storage_path=name)
    assert client.post("/", json=finalize_envelope(bucket, name)).get_json()["status"] == "completed"
    again = client.post("/", json=finalize_envelope(bucket, name))
    assert again.status_code == 200 and again.get_json()["status"] == "duplicate"
    assert db.execute("select count(*) as n from ml_jobs where media_id = %s", (media_id,)).fetchone()["n"] == 1
    assert face_count(db, media_id) == 4


def test_notification_reuses_the_job_already_in_flight(client: FlaskClient, db: psycopg.Connection,
                                                       uploaded: tuple[str, str]) -> None:
    bucket, name = uploaded
    event_id = make_event(db)
    media_id = make_media(db, event_id, storage_path=name)
    enqueued = ensure_detect_job(db, event_id=event_id, media_id=media_id, model=MODEL, max_attempts=5)
    assert client.post("/", json=finalize_envelope(bucket, name)).get_json()["status"] == "completed"
    assert [row["id"] for row in db.execute("select id from ml_jobs where media_id = %s", (media_id,))] == [enqueued]


def test_upload_into_disabled_event_creates_no_job(client: FlaskClient, db: psycopg.Connection,
                                                   uploaded: tuple[str, str]) -> None:
    bucket, name = uploaded
    media_id = make_media(db, make_event(db, enabled=False), storage_path=name)
    response = client.post("/", json=finalize_envelope(bucket, name))
    assert response.status_code == 200 and response.get_json()["status"] == "skipped"
    assert db.execute("select count(*) as n from ml_jobs where media_id = %s", (media_id,)).fetchone()["n"] == 0


def test_object_without_media_row_is_retried_while_fresh_then_ignored(client: FlaskClient,
                                                                      uploaded: tuple[str, str]) -> None:
    bucket, name = uploaded
    fresh = client.post("/", json=finalize_envelope(bucket, name))
    assert fresh.status_code == 503            # the app may not have written the media row yet
    old = client.post("/", json=finalize_envelope(bucket, name, published=datetime.now(UTC) - timedelta(hours=1)))
    assert old.status_code == 200 and old.get_json()["status"] == "ignored"


def test_other_storage_events_are_acknowledged(client: FlaskClient, uploaded: tuple[str, str]) -> None:
    bucket, name = uploaded
    for event_type in ("OBJECT_DELETE", "OBJECT_METADATA_UPDATE", "OBJECT_ARCHIVE"):
        response = client.post("/", json=finalize_envelope(bucket, name, event_type))
        assert response.status_code == 200 and response.get_json()["status"] == "ignored"


def test_media_row_whose_object_vanished_fails_its_job(client: FlaskClient, db: psycopg.Connection,
                                                       gcs_bucket: storage.Bucket) -> None:
    media_id = make_media(db, make_event(db), storage_path="events/e1/deleted-before-processing.jpg")
    response = client.post("/", json=finalize_envelope(gcs_bucket.name, "events/e1/deleted-before-processing.jpg"))
    assert response.status_code == 200 and response.get_json()["error"].startswith("not_found:")
    assert db.execute("select status from ml_jobs where media_id = %s", (media_id,)).fetchone()["status"] == "failed"
