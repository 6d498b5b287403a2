"""End to end: the app inserts a media row, and its faces are stored, with no call to ml-enqueue.

Everything is real: the embedded PostgreSQL (whose trigger records the media and notifies), the
local stack's listener forwarding the notification to ml-media-inserted on loopback, the Pub/Sub
emulator pushing the detect message to the detection service on loopback, the models and the photo.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.detection.conftest import detect_app, face_count
from tests.factories import add_member, let_members_insert_media, make_event
from tests.security.db_attack import Caller, api_request
from tests.support.callbacks import CallbackRecorder
from tests.support.loopback import serve_wsgi
from tests.support.pubsub_emulator import PubsubEmulator


@pytest.fixture
def pushed_detection(pubsub_emulator: PubsubEmulator, detect_env: CallbackRecorder,
                     monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The detection service on loopback behind a push subscription of the topic the backend publishes to."""
    topic = pubsub_emulator.create_topic("ml-detect")
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", pubsub_emulator.host)
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", pubsub_emulator.project)
    monkeypatch.setenv("PUBSUB_TOPIC", topic.rsplit("/", 1)[1])
    app = detect_app()
    with serve_wsgi(app) as url:
        subscription = pubsub_emulator.create_push_subscription(topic, f"{url}/")
        try:
            yield
        finally:
            pubsub_emulator.delete_subscription(subscription)


def insert_as_member(db: psycopg.Connection, event_id: uuid.UUID, member: uuid.UUID, storage_path: str) -> uuid.UUID:
    """What the app does after the upload: insert the media row through the REST API as the member."""
    caller = Caller("member", "authenticated", {"role": "authenticated", "sub": str(member)})
    with api_request(db, caller) as conn:
        return conn.execute("insert into media (event_id, uploaded_by, storage_path, mime_type)"
                            " values (%s, %s, %s, 'image/jpeg') returning id",
                            (event_id, member, storage_path)).fetchone()["id"]


def test_a_photo_a_member_inserts_is_detected_with_no_call_from_the_app(
        pushed_detection: None, media_insert_forwarding: str, db: psycopg.Connection, detect_env: CallbackRecorder,
        tmp_path: Path, group_photo: bytes) -> None:
    photo = tmp_path / "IMG_0001.jpg"
    photo.write_bytes(group_photo)
    event_id = make_event(db)
    member = add_member(db, event_id)
    let_members_insert_media(db)

    media_id = insert_as_member(db, event_id, member, photo.as_uri())

    [callback] = detect_env.wait_for(1, timeout=120)
    assert (callback["media_id"], callback["status"]) == (str(media_id), "completed")
    assert face_count(db, media_id) == 4
    [job] = db.execute("select * from ml_jobs where media_id = %s", (media_id,)).fetchall()
    assert (job["status"], job["attempts"], job["result"]["faces"]) == ("completed", 1, 4)
    assert db.execute("select count(*) as n from media_awaiting_detection").fetchone()["n"] == 0


def test_media_inserted_while_nobody_listened_are_started_when_the_listener_connects(
        pushed_detection: None, db: psycopg.Connection, detect_env: CallbackRecorder, tmp_path: Path,
        group_photo: bytes, request: pytest.FixtureRequest) -> None:
    photo = tmp_path / "IMG_0002.jpg"
    photo.write_bytes(group_photo)
    event_id = make_event(db)
    media_id = db.execute("insert into media (event_id, storage_path, mime_type) values (%s, %s, 'image/jpeg')"
                          " returning id", (event_id, photo.as_uri())).fetchone()["id"]
    # Committed with nobody listening: PostgreSQL dropped the notification.
    request.getfixturevalue("media_insert_forwarding")

    [callback] = detect_env.wait_for(1, timeout=120)
    assert callback["media_id"] == str(media_id) and face_count(db, media_id) == 4
