"""``event_face_models`` through the API roles: members read their event's pack, nobody else sees or writes it."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from shared.db.event_models import pin_event_model
from tests.factories import add_member, make_event
from tests.foundation.test_rls import as_api_user


@pytest.fixture
def pinned(db: psycopg.Connection) -> dict:
    world = {"organiser": uuid.uuid4(), "member": uuid.uuid4()}
    world["event"] = make_event(db, owner_id=world["organiser"])
    world["other"] = make_event(db)
    add_member(db, world["event"], world["member"])
    for event in (world["event"], world["other"]):
        with db.transaction():
            pin_event_model(db, event, "yunet-dlib")
    return world


def test_members_read_their_events_pack_only(db: psycopg.Connection, pinned: dict) -> None:
    with as_api_user(db, "authenticated", pinned["member"]):
        assert [r["event_id"] for r in db.execute("select event_id from event_face_models")] == [pinned["event"]]


@pytest.mark.parametrize("who", ["organiser", "member"])
def test_no_api_user_changes_an_events_pack(db: psycopg.Connection, pinned: dict, who: str) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege), as_api_user(db, "authenticated", pinned[who]):
        db.execute("update event_face_models set model = 'scrfd-dlib' where event_id = %s", (pinned["event"],))
    assert db.execute("select model from event_face_models where event_id = %s",
                      (pinned["event"],)).fetchone()["model"] == "yunet-dlib"


def test_anon_sees_nothing(db: psycopg.Connection, pinned: dict) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege), as_api_user(db, "anon", None):
        db.execute("select * from event_face_models")
