"""Row-level security as Supabase applies it: the API role and the JWT claims set per request."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest

from tests.factories import add_member, make_event, make_media

TABLES = ("faces", "face_persons", "media_tags", "ml_jobs")


@contextmanager
def as_api_user(db: psycopg.Connection, role: str, user_id: uuid.UUID | None) -> Iterator[psycopg.Connection]:
    """What PostgREST does per request: switch role and publish the JWT claims, in one transaction."""
    claims = {"role": role, **({"sub": str(user_id)} if user_id else {})}
    with db.transaction(force_rollback=True):
        db.execute(f"set local role {role}")
        db.execute("select set_config('request.jwt.claims', %s, true)", (json.dumps(claims),))
        yield db


@pytest.fixture
def two_events(db: psycopg.Connection) -> dict:
    """Two events with one face, person, tag and job each; a member of the first only."""
    world: dict = {"member": uuid.uuid4(), "organiser": uuid.uuid4(), "outsider": uuid.uuid4()}
    for key in ("event_a", "event_b"):
        event = make_event(db, owner_id=world["organiser"] if key == "event_a" else None)
        media = make_media(db, event)
        person = db.execute("insert into face_persons (event_id, model) values (%s, 'yunet-dlib') returning id",
                            (event,)).fetchone()["id"]
        db.execute("insert into faces (event_id, media_id, model, bbox, landmarks, det_score, quality, embedding,"
                   " person_id, assignment) values (%s, %s, 'yunet-dlib', %s, %s, 0.9, 0.9, %s, %s, 'cluster')",
                   (event, media, [0, 0, 1, 1], [0.0] * 10, str([0.1] * 128), person))
        db.execute("insert into media_tags (media_id, user_id, source) values (%s, %s, 'manual')",
                   (media, uuid.uuid4()))
        db.execute("insert into ml_jobs (job_type, event_id, media_id) values ('detect', %s, %s)", (event, media))
        world[key] = event
    add_member(db, world["event_a"], world["member"], "member")
    return world


def _visible_events(db: psycopg.Connection, table: str) -> set[uuid.UUID]:
    if table == "media_tags":
        query = "select m.event_id from media_tags t join media m on m.id = t.media_id"
    else:
        query = f"select event_id from {table}"
    return {row["event_id"] for row in db.execute(query)}


@pytest.mark.parametrize("table", TABLES)
def test_members_read_their_event_only(db, two_events, table: str) -> None:
    with as_api_user(db, "authenticated", two_events["member"]):
        assert _visible_events(db, table) == {two_events["event_a"]}


@pytest.mark.parametrize("table", TABLES)
def test_non_members_see_nothing_and_anon_may_not_even_ask(db, two_events, table: str) -> None:
    with as_api_user(db, "authenticated", two_events["outsider"]):
        assert _visible_events(db, table) == set()
    with as_api_user(db, "anon", None), pytest.raises(psycopg.errors.InsufficientPrivilege):
        _visible_events(db, table)


def test_members_cannot_change_rows_but_organisers_can(db, two_events) -> None:
    with as_api_user(db, "authenticated", two_events["member"]):
        updated = db.execute("update face_persons set display_name = 'x' where event_id = %s",
                             (two_events["event_a"],)).rowcount
        assert updated == 0
    with as_api_user(db, "authenticated", two_events["organiser"]):
        updated = db.execute("update face_persons set display_name = 'x' where event_id = %s",
                             (two_events["event_a"],)).rowcount
        assert updated == 1
        # ... but not in an event they do not organise.
        assert db.execute("update face_persons set display_name = 'x' where event_id = %s",
                          (two_events["event_b"],)).rowcount == 0


def test_member_cannot_insert_into_an_event(db, two_events) -> None:
    with as_api_user(db, "authenticated", two_events["member"]), pytest.raises(
            psycopg.errors.InsufficientPrivilege, match="row-level security"):
        db.execute("insert into face_persons (event_id, model) values (%s, 'yunet-dlib')", (two_events["event_a"],))


def test_service_role_bypasses_rls(db, two_events) -> None:
    with as_api_user(db, "service_role", None):
        assert _visible_events(db, "faces") == {two_events["event_a"], two_events["event_b"]}
