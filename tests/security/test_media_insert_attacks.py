"""Issue 15: the media-insert path attacked through the REST API's roles and the local notification.

The API roles can neither run the trigger function, nor read or forge what awaits detection, nor
insert media where they are not members; a notification anyone can send (``pg_notify`` is public)
names only an event, and the endpoint acts on the database's record alone. The endpoint's secret and
hostile bodies are attacked in tests/functions/test_media_inserted.py and test_api_hostile_input.py.
"""

from __future__ import annotations

import time

import psycopg
import pytest

from tests.factories import let_members_insert_media, make_media
from tests.security.db_attack import TwoEvents, api_request, attempt, build_two_events, callers, snapshot


@pytest.fixture
def world(db: psycopg.Connection) -> TwoEvents:
    return build_two_events(db)


ATTACKS = [
    (who, statement) for who in ("anon", "stranger", "member_a", "organiser_a", "claims_service_role")
    for statement in (
        "select public.record_inserted_media()",
        "select media_id from media_awaiting_detection",
        "insert into media_awaiting_detection (media_id, event_id) values (%(media_b)s, %(b)s)",
        "delete from media_awaiting_detection",
        "update media_awaiting_detection set created_at = now() - interval '1 day'",
        "alter table media disable trigger media_inserted_detection",
        "drop trigger media_inserted_detection on media",
    )
]


@pytest.mark.parametrize(("who", "statement"), ATTACKS)
def test_api_roles_cannot_run_read_or_forge_the_insert_path(db, world, who: str, statement: str) -> None:
    before = snapshot(db)
    assert attempt(db, callers(world)[who], statement, world.params()) == "refused"
    assert snapshot(db) == before


def test_the_trigger_function_is_executable_by_no_api_role(db) -> None:
    for role in ("anon", "authenticated"):
        assert not db.execute("select has_function_privilege(%s, 'public.record_inserted_media()', 'execute') as x",
                              (role,)).fetchone()["x"]


def test_a_member_inserting_media_into_another_event_is_refused_and_nothing_awaits(db, world) -> None:
    member_a = callers(world)["member_a"]
    statement = ("insert into media (event_id, uploaded_by, storage_path) values (%(b)s, %(member_a)s, 'x.jpg')")
    before = snapshot(db)
    assert attempt(db, member_a, statement, world.params()) == "refused"      # facecluster's own media table
    let_members_insert_media(db)                                              # an app that lets members upload
    before = snapshot(db)
    assert attempt(db, member_a, statement, world.params()) == "refused"      # RLS: not a member of b
    assert snapshot(db) == before
    # ... while into the member's own event the same insert is recorded for detection.
    own = statement.replace("%(b)s", "%(a)s")
    assert attempt(db, member_a, own, world.params()) == "rows=1"
    assert db.execute("select count(*) as n from media_awaiting_detection where event_id = %s",
                      (world.a,)).fetchone()["n"] == 2


def _awaiting(db: psycopg.Connection, event_id: object) -> int:
    return db.execute("select count(*) as n from media_awaiting_detection where event_id = %s",
                      (event_id,)).fetchone()["n"]


@pytest.mark.parametrize("payload", ["{b}", "not-a-uuid", '{{"event_id": "{b}", "force": true}}', ""])
def test_a_forged_notification_starts_nothing_the_database_did_not_record(
        db, world, api_env, detect_topic, media_insert_forwarding, payload: str) -> None:
    # A photo of b that awaits nothing: uploaded while b had face recognition off (an organiser may
    # still enqueue it through ml-enqueue; nobody else may).
    db.execute("update events set face_recognition_enabled = false where id = %s", (world.b,))
    make_media(db, world.b)
    db.execute("update events set face_recognition_enabled = true where id = %s", (world.b,))
    jobs_before = snapshot(db)["ml_jobs"]
    with api_request(db, callers(world)["member_a"]) as conn:   # anyone may notify on any channel
        conn.execute("select pg_notify('facecluster_media_inserted', %s)", (payload.format(b=world.b),))
    # A genuine nudge after it: the listener forwards in order, so once a's record is handled
    # (its media already has a job in flight) the forged one has been answered too.
    db.execute("select pg_notify('facecluster_media_inserted', %s)", (str(world.a),))
    deadline = time.monotonic() + 30
    while _awaiting(db, world.a):
        assert time.monotonic() < deadline, "the genuine notification was not handled"
        time.sleep(0.1)
    assert snapshot(db)["ml_jobs"] == jobs_before     # b's new photo, unanalysed, got no job
