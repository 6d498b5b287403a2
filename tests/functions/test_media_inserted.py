"""ml-media-inserted: a media row inserted into an event with face recognition on starts its detection.

The trigger of migration 20261130001000 records the media and notifies; the endpoint (called here
as the webhook calls it) creates and publishes the jobs from what the database recorded, once,
however often and concurrently it is called. Messages are read back from the real Pub/Sub emulator.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

import psycopg
import pytest

from shared.api.auth import MEDIA_WEBHOOK_HEADER
from shared.db.connection import connect
from shared.pipeline.messages import DetectMessage
from shared.settings import get_settings
from tests.factories import make_event, make_media
from tests.functions.conftest import CALLBACK_SECRET, MEDIA_WEBHOOK_SECRET, FunctionClient
from tests.functions.world import MODEL
from tests.support.pg_net import install_pg_net_stand_in, store_vault_secret
from tests.support.pubsub_emulator import PubsubEmulator

CHANNEL = "facecluster_media_inserted"


def notify(api: FunctionClient, event_id: Any, secret: str | None = MEDIA_WEBHOOK_SECRET) -> Any:
    """What the database's webhook sends (and the local stack forwards)."""
    headers = {MEDIA_WEBHOOK_HEADER: secret} if secret is not None else {}
    return api.call({"event_id": str(event_id)}, headers=headers)


def awaiting(db: psycopg.Connection) -> set[uuid.UUID]:
    return {row["media_id"] for row in db.execute("select media_id from media_awaiting_detection")}


def detect_jobs(db: psycopg.Connection, media_id: uuid.UUID) -> list[dict[str, Any]]:
    return db.execute("select * from ml_jobs where media_id = %s and job_type = 'detect'", (media_id,)).fetchall()


def published(pubsub_emulator: PubsubEmulator, subscription: str, expected: int) -> list[DetectMessage]:
    """The messages on the subscription: ``expected`` of them, and any more arriving within a second."""
    received = []
    while len(received) < expected and (batch := pubsub_emulator.pull(subscription, timeout=10)):
        received += batch
    received += pubsub_emulator.pull(subscription, timeout=1)
    return [DetectMessage.from_bytes(m.message.data) for m in received]


def test_an_inserted_photo_gets_one_job_and_one_message_however_often_notified(
        db, media_inserted_api, detect_topic, pubsub_emulator) -> None:
    _, subscription = detect_topic
    event_id = make_event(db)
    media_id = make_media(db, event_id)
    assert awaiting(db) == {media_id}

    first = notify(media_inserted_api, event_id)
    assert first.status_code == 200, first.get_json()
    assert first.get_json() | {"event_id": None} == {"event_id": None, "awaiting": 1, "jobs_created": 1,
                                                      "already_in_flight": 0, "skipped_analysed": 0, "skipped": None}
    [job] = detect_jobs(db, media_id)
    assert (job["status"], job["model"], job["priority"]) == ("pending", MODEL, 1)
    [message] = published(pubsub_emulator, subscription, 1)
    assert (message.job_id, message.media_id, message.event_id) == (job["id"], media_id, event_id)
    assert awaiting(db) == set()

    again = notify(media_inserted_api, event_id)
    assert again.status_code == 200 and again.get_json()["awaiting"] == 0 and again.get_json()["jobs_created"] == 0
    assert len(detect_jobs(db, media_id)) == 1
    assert published(pubsub_emulator, subscription, 0) == []


def test_concurrent_notifications_create_one_job_and_one_message(
        db, media_inserted_api, detect_topic, pubsub_emulator) -> None:
    _, subscription = detect_topic
    event_id = make_event(db)
    media_ids = [make_media(db, event_id) for _ in range(3)]
    statuses: list[int] = []
    start = threading.Barrier(4)

    def deliver() -> None:
        start.wait()
        statuses.append(notify(media_inserted_api, event_id).status_code)

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 4
    assert [len(detect_jobs(db, media_id)) for media_id in media_ids] == [1, 1, 1]
    messages = published(pubsub_emulator, subscription, 3)
    assert sorted(str(m.media_id) for m in messages) == sorted(map(str, media_ids))


def test_media_face_recognition_does_not_want_are_not_recorded(db, media_inserted_api, detect_topic) -> None:
    disabled = make_event(db, enabled=False)
    enabled = make_event(db)
    make_media(db, disabled)
    db.execute("insert into media (event_id, storage_path, mime_type) values (%s, 'events/clip.mp4', 'video/mp4')",
               (enabled,))
    assert awaiting(db) == set()
    for event_id in (disabled, enabled):
        response = notify(media_inserted_api, event_id)
        assert response.status_code == 200 and response.get_json()["jobs_created"] == 0
    assert db.execute("select count(*) as n from ml_jobs").fetchone()["n"] == 0


def test_face_recognition_turned_off_before_the_notification_drops_the_record(
        db, media_inserted_api, detect_topic) -> None:
    event_id = make_event(db)
    media_id = make_media(db, event_id)
    db.execute("update events set face_recognition_enabled = false where id = %s", (event_id,))
    response = notify(media_inserted_api, event_id)
    assert response.status_code == 200
    assert response.get_json()["skipped"] == "face recognition is off for this event"
    assert detect_jobs(db, media_id) == [] and awaiting(db) == set()


def test_media_already_analysed_or_in_flight_get_no_second_job(db, media_inserted_api, enqueue_api, detect_topic,
                                                               pubsub_emulator) -> None:
    _, subscription = detect_topic
    event_id = make_event(db)
    media_id = make_media(db, event_id)
    organiser = db.execute("select owner_id from events where id = %s", (event_id,)).fetchone()["owner_id"]
    assert enqueue_api.call({"type": "detect", "event_id": str(event_id)}, user=organiser).status_code == 202
    response = notify(media_inserted_api, event_id).get_json()
    assert (response["jobs_created"], response["already_in_flight"]) == (0, 1)
    assert len(detect_jobs(db, media_id)) == 1 and len(published(pubsub_emulator, subscription, 1)) == 1
    assert awaiting(db) == set()


def test_a_failed_publish_keeps_the_record_for_the_next_notification(
        db, media_inserted_api, detect_topic, pubsub_emulator, monkeypatch) -> None:
    _, subscription = detect_topic
    topic_id = get_settings().pubsub_topic
    event_id = make_event(db)
    media_id = make_media(db, event_id)
    monkeypatch.setenv("PUBSUB_TOPIC", "topic-that-does-not-exist")
    response = notify(media_inserted_api, event_id)
    assert response.status_code == 503 and response.get_json()["error"]["code"] == "publish_failed"
    assert [job["status"] for job in detect_jobs(db, media_id)] == ["failed"] and awaiting(db) == {media_id}

    monkeypatch.setenv("PUBSUB_TOPIC", topic_id)
    assert notify(media_inserted_api, event_id).get_json()["jobs_created"] == 1
    [message] = published(pubsub_emulator, subscription, 1)
    assert message.media_id == media_id and awaiting(db) == set()


def test_the_sweep_starts_media_whose_notification_was_lost(db, callback_api, detect_topic, pubsub_emulator,
                                                            runner) -> None:
    _, subscription = detect_topic
    event_id = make_event(db)
    lost, recent = make_media(db, event_id), make_media(db, event_id)
    db.execute("update media_awaiting_detection set created_at = now() - interval '10 minutes'"
               " where media_id = %s", (lost,))
    response = callback_api.call({"type": "sweep"}, headers={"Authorization": f"Bearer {CALLBACK_SECRET}"})
    assert response.status_code == 200 and response.get_json()["sweep"]["inserted_media_published"] == 2
    # The overdue record names the event; its other media (notified a moment ago) go out in the same jobs.
    assert sorted(str(m.media_id) for m in published(pubsub_emulator, subscription, 2)) == sorted([str(lost),
                                                                                                 str(recent)])
    assert len(detect_jobs(db, lost)) == len(detect_jobs(db, recent)) == 1 and awaiting(db) == set()


@pytest.mark.parametrize("secret", [None, "", "wrong", MEDIA_WEBHOOK_SECRET + "x", CALLBACK_SECRET])
def test_a_wrong_or_missing_secret_is_401_and_changes_nothing(db, media_inserted_api, secret) -> None:
    event_id = make_event(db)
    make_media(db, event_id)
    response = notify(media_inserted_api, event_id, secret=secret)
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "invalid_secret"
    assert db.execute("select count(*) as n from ml_jobs").fetchone()["n"] == 0 and len(awaiting(db)) == 1


def test_without_a_configured_secret_nothing_is_accepted(db, media_inserted_api, monkeypatch) -> None:
    monkeypatch.delenv("MEDIA_WEBHOOK_SECRET")
    response = notify(media_inserted_api, make_event(db), secret="")
    assert response.status_code == 503 and response.get_json()["error"]["code"] == "not_configured"


@pytest.mark.parametrize(("body", "field"), [
    ({}, "event_id"),
    ({"event_id": "not-a-uuid"}, "event_id"),
    ({"event_id": 7}, "event_id"),
    ({"event_id": "{event}", "media_ids": []}, "media_ids"),
    ({"event_id": "{event}", "type": "INSERT", "record": {}}, "record"),
    (["{event}"], "body"),
])
def test_a_body_that_is_not_exactly_an_event_id_is_400_and_changes_nothing(db, media_inserted_api, body,
                                                                           field) -> None:
    event_id = make_event(db)
    make_media(db, event_id)
    filled = ([str(event_id)] if isinstance(body, list)
              else {k: str(event_id) if v == "{event}" else v for k, v in body.items()})
    response = media_inserted_api.call(filled, headers={MEDIA_WEBHOOK_HEADER: MEDIA_WEBHOOK_SECRET})
    assert response.status_code == 400 and response.get_json()["error"]["field"] == field
    assert db.execute("select count(*) as n from ml_jobs").fetchone()["n"] == 0 and len(awaiting(db)) == 1


def test_get_is_405(media_inserted_api) -> None:
    response = media_inserted_api.call(method="GET", headers={MEDIA_WEBHOOK_HEADER: MEDIA_WEBHOOK_SECRET})
    assert response.status_code == 405


def test_one_statement_notifies_each_of_its_events_once_at_commit(db, database_url) -> None:
    first, second = make_event(db), make_event(db)
    with connect(database_url, autocommit=True) as listener:
        listener.execute(f"listen {CHANNEL}")
        with db.transaction():
            db.execute("insert into media (event_id, storage_path) select e, 'events/' || g || '.jpg'"
                       " from unnest(%s::uuid[]) as e, generate_series(1, 5) as g", ([first, second],))
            assert list(listener.notifies(timeout=0.5)) == []      # nothing before commit
        payloads = sorted(n.payload for n in listener.notifies(timeout=1, stop_after=3))
    assert payloads == sorted([str(first), str(second)])
    assert len(awaiting(db)) == 10


WEBHOOK_URL = "https://ml-media-inserted-123.europe-west1.run.app/"


def test_with_pg_net_and_vault_the_insert_queues_the_webhook_the_endpoint_accepts(
        db, media_inserted_api, detect_topic, pubsub_emulator) -> None:
    _, subscription = detect_topic
    install_pg_net_stand_in(db)
    event_id = make_event(db)
    unconfigured = make_media(db, event_id)
    assert db.execute("select count(*) as n from net.stand_in_requests").fetchone()["n"] == 0   # no secrets yet
    store_vault_secret(db, "facecluster_media_webhook_url", WEBHOOK_URL)
    store_vault_secret(db, "facecluster_media_webhook_secret", MEDIA_WEBHOOK_SECRET)

    media_id = make_media(db, event_id)

    [request] = db.execute("select * from net.stand_in_requests").fetchall()
    assert request["url"] == WEBHOOK_URL and request["body"] == {"event_id": str(event_id)}
    assert request["headers"] == {"Content-Type": "application/json", MEDIA_WEBHOOK_HEADER: MEDIA_WEBHOOK_SECRET}
    # What pg_net's worker then sends:
    response = media_inserted_api.client.post("/", json=request["body"], headers=request["headers"])
    assert response.status_code == 200 and response.get_json()["jobs_created"] == 2
    assert {m.media_id for m in published(pubsub_emulator, subscription, 2)} == {unconfigured, media_id}


def test_a_webhook_that_cannot_be_queued_never_fails_the_upload(db) -> None:
    install_pg_net_stand_in(db, failing=True)
    store_vault_secret(db, "facecluster_media_webhook_url", WEBHOOK_URL)
    store_vault_secret(db, "facecluster_media_webhook_secret", MEDIA_WEBHOOK_SECRET)
    media_id = make_media(db, make_event(db))
    assert awaiting(db) == {media_id}          # recorded: the next notification or the sweep starts it
