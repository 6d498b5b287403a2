"""The real Pub/Sub emulator pushing to the real service on loopback.

The emulator retries every non-2xx answer (with the subscription's backoff, 1-2 s here) and
dead-letters after ``max_delivery_attempts``, so these tests see what production would: what is
acknowledged, what is redelivered, and what ends in the dead-letter topic.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from google.cloud import storage

from shared.db.connection import connect
from tests.detection.conftest import database_down, database_name, detect_app, face_count, job_row, make_detect_job
from tests.factories import make_event, make_media
from tests.support.callbacks import CallbackRecorder
from tests.support.loopback import serve_wsgi
from tests.support.pubsub_emulator import PubsubEmulator


@dataclass
class DeliveryLog:
    """Every push the service answered, with its status code."""

    statuses: list[int] = field(default_factory=list)
    _changed: threading.Condition = field(default_factory=threading.Condition)

    def wrap(self, app: Callable) -> Callable:
        def recording_app(environ: dict, start_response: Callable) -> Any:
            def record(status: str, headers: list, exc_info: Any = None) -> Any:
                if environ["REQUEST_METHOD"] == "POST":
                    with self._changed:
                        self.statuses.append(int(status.split()[0]))
                        self._changed.notify_all()
                return start_response(status, headers, exc_info)
            return app(environ, record)
        return recording_app

    def wait_for(self, predicate: Callable[[list[int]], bool], timeout: float = 60.0) -> list[int]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate(self.statuses):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"deliveries so far: {self.statuses}")
                self._changed.wait(remaining)
            return list(self.statuses)


@dataclass
class PushedService:
    topic: str
    dead_letters: str
    deliveries: DeliveryLog


@pytest.fixture
def pushed_service(pubsub_emulator: PubsubEmulator, detect_env: CallbackRecorder) -> Iterator[PushedService]:
    """The service on loopback behind a push subscription with a dead-letter topic (5 attempts)."""
    deliveries = DeliveryLog()
    app = deliveries.wrap(detect_app())
    topic = pubsub_emulator.create_topic("ml-detect")
    dead_letter_topic = pubsub_emulator.create_topic("ml-detect-dead")
    dead_letters = pubsub_emulator.create_pull_subscription(dead_letter_topic)
    with serve_wsgi(app) as url:
        subscription = pubsub_emulator.create_push_subscription(topic, f"{url}/", dead_letter_topic=dead_letter_topic,
                                                                max_delivery_attempts=5)
        try:
            yield PushedService(topic, dead_letters, deliveries)
        finally:
            pubsub_emulator.delete_subscription(subscription)


@pytest.fixture
def photo_file(tmp_path: Path, group_photo: bytes) -> Path:
    path = tmp_path / "group.jpg"
    path.write_bytes(group_photo)
    return path


def _wait_for_job(db: psycopg.Connection, job_id: Any, status: str, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while (job := job_row(db, job_id))["status"] != status:
        assert time.monotonic() < deadline, f"job still {job['status']}"
        time.sleep(0.1)
    return job


def test_pushed_message_is_processed_once_even_when_published_twice(
        pushed_service: PushedService, pubsub_emulator: PubsubEmulator, db: psycopg.Connection,
        photo_file: Path, detect_env: CallbackRecorder) -> None:
    case = make_detect_job(db, photo_file.as_uri())
    pubsub_emulator.publish(pushed_service.topic, case.message.to_bytes())
    pubsub_emulator.publish(pushed_service.topic, case.message.to_bytes())

    [callback] = detect_env.wait_for(1)
    assert callback["status"] == "completed" and callback["result"]["faces"] == 4
    # Both copies end acknowledged (a copy that met the lease is answered 503 and redelivered).
    statuses = pushed_service.deliveries.wait_for(lambda s: s.count(200) == 2)
    assert set(statuses) <= {200, 503}
    assert face_count(db, case.media_id) == 4 and job_row(db, case.job_id)["attempts"] == 1
    assert pubsub_emulator.pull(pushed_service.dead_letters, timeout=1) == []


def test_corrupt_image_is_acknowledged_once_and_never_retried(
        pushed_service: PushedService, pubsub_emulator: PubsubEmulator, db: psycopg.Connection,
        tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 64)
    case = make_detect_job(db, corrupt.as_uri())
    pubsub_emulator.publish(pushed_service.topic, case.message.to_bytes())

    job = _wait_for_job(db, case.job_id, "failed")
    assert job["error"].split(":")[0] in {"truncated", "not_an_image"}
    pushed_service.deliveries.wait_for(lambda s: s == [200])
    # No redelivery, shown by a message published after the ack that the service rejects: the
    # emulator retries it with the subscription's backoff (1 s, then 2 s), so by its third
    # delivery a redelivery of the corrupt image, due within the 2 s maximum, would have arrived.
    pubsub_emulator.publish(pushed_service.topic, b'{"job_id": "not-a-uuid"}')
    statuses = pushed_service.deliveries.wait_for(lambda s: s.count(400) >= 3)
    assert statuses.count(200) == 1, statuses


def test_malformed_message_is_rejected_then_dead_lettered(pushed_service: PushedService,
                                                          pubsub_emulator: PubsubEmulator) -> None:
    pubsub_emulator.publish(pushed_service.topic, b'{"job_id": "not-a-uuid"}')
    [dead] = pubsub_emulator.pull(pushed_service.dead_letters, timeout=60)
    assert dead.message.data == b'{"job_id": "not-a-uuid"}'
    assert dead.message.attributes["CloudPubSubDeadLetterSourceDeliveryCount"] == "5"
    assert pushed_service.deliveries.statuses == [400] * 5


def test_upload_notification_is_processed(pushed_service: PushedService, pubsub_emulator: PubsubEmulator,
                                          db: psycopg.Connection, gcs_bucket: storage.Bucket, group_photo: bytes,
                                          detect_env: CallbackRecorder) -> None:
    name = "events/e1/IMG_0002.jpg"
    gcs_bucket.blob(name).upload_from_string(group_photo, content_type="image/jpeg")
    media_id = make_media(db, make_event(db), storage_path=name)
    pubsub_emulator.publish(pushed_service.topic, b"", eventType="OBJECT_FINALIZE", bucketId=gcs_bucket.name,
                            objectId=name, payloadFormat="NONE")

    [callback] = detect_env.wait_for(1)
    assert callback["media_id"] == str(media_id) and callback["status"] == "completed"
    assert face_count(db, media_id) == 4


def test_database_outage_is_retried_until_the_database_is_back(
        pushed_service: PushedService, pubsub_emulator: PubsubEmulator, database_url: str,
        postgres_server_url: str, photo_file: Path, detect_env: CallbackRecorder) -> None:
    with connect(database_url, autocommit=True) as conn:
        case = make_detect_job(conn, photo_file.as_uri())
    with database_down(postgres_server_url, database_name(database_url)):
        pubsub_emulator.publish(pushed_service.topic, case.message.to_bytes())
        pushed_service.deliveries.wait_for(lambda s: 503 in s)

    [callback] = detect_env.wait_for(1)
    assert callback["job_id"] == str(case.job_id) and callback["status"] == "completed"
    statuses = pushed_service.deliveries.wait_for(lambda s: 200 in s)
    assert statuses[-1] == 200 and set(statuses[:-1]) == {503}
    with connect(database_url, autocommit=True) as conn:
        assert face_count(conn, case.media_id) == 4
