"""purge_face_data_for_user: exactly the user's face data in one event, idempotent, logged."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from tests.factories import add_member, make_event, make_media
from tests.foundation.test_rls import as_api_user


def _person_with_faces(db, event, user, media_ids, *, name=None):
    person = db.execute("insert into face_persons (event_id, model, linked_user_id, display_name, face_count)"
                        " values (%s, 'yunet-dlib', %s, %s, %s) returning id",
                        (event, user, name, len(media_ids))).fetchone()["id"]
    for media in media_ids:
        db.execute("insert into faces (event_id, media_id, model, bbox, landmarks, det_score, quality, embedding,"
                   " person_id, assignment) values (%s, %s, 'yunet-dlib', %s, %s, 0.9, 0.9, %s, %s, 'cluster')",
                   (event, media, [0, 0, 1, 1], [0.0] * 10, str([0.1] * 128), person))
        if user:
            db.execute("insert into media_tags (media_id, user_id, source, person_id) values (%s, %s, 'face', %s)"
                       " on conflict do nothing", (media, user, person))
    return person


@pytest.fixture
def world(db: psycopg.Connection) -> dict:
    alice, bob = uuid.uuid4(), uuid.uuid4()
    event, other_event = make_event(db), make_event(db)
    for e in (event, other_event):
        add_member(db, e, alice)
        add_member(db, e, bob)
    m1, m2, m3 = (make_media(db, event) for _ in range(3))
    other_media = make_media(db, other_event)
    alice_person = _person_with_faces(db, event, alice, [m1, m2])
    # A person merged into Alice's: still hers.
    merged = _person_with_faces(db, event, None, [])
    db.execute("update face_persons set status = 'merged', merged_into = %s where id = %s", (alice_person, merged))
    bob_person = _person_with_faces(db, event, bob, [m2, m3])
    unlinked = _person_with_faces(db, event, None, [m3])
    alice_elsewhere = _person_with_faces(db, other_event, alice, [other_media])
    db.execute("insert into media_tags (media_id, user_id, source) values (%s, %s, 'manual')", (m3, alice))
    return dict(alice=alice, bob=bob, event=event, other_event=other_event, alice_person=alice_person,
                merged=merged, bob_person=bob_person, unlinked=unlinked, alice_elsewhere=alice_elsewhere, m3=m3)


def _snapshot(db) -> dict:
    return {
        "faces": {(r["person_id"], r["media_id"]) for r in db.execute("select person_id, media_id from faces")},
        "persons": {r["id"] for r in db.execute("select id from face_persons")},
        "tags": {(r["media_id"], r["user_id"], r["source"]) for r in db.execute(
            "select media_id, user_id, source from media_tags")},
    }


def test_purge_removes_exactly_the_users_face_data_in_that_event(db, world) -> None:
    before = _snapshot(db)
    result = db.execute("select purge_face_data_for_user(%s, %s) as r",
                        (world["alice"], world["event"])).fetchone()["r"]
    assert result == {"faces_deleted": 2, "persons_deleted": 2, "tags_deleted": 2}
    after = _snapshot(db)

    assert before["persons"] - after["persons"] == {world["alice_person"], world["merged"]}
    assert {p for p, _ in before["faces"] - after["faces"]} == {world["alice_person"]}
    assert {(u, s) for _, u, s in before["tags"] - after["tags"]} == {(world["alice"], "face")}
    # Bob, the unlinked person, Alice in the other event and Alice's manual tag are untouched.
    assert {world["bob_person"], world["unlinked"], world["alice_elsewhere"]} <= after["persons"]
    assert (world["m3"], world["alice"], "manual") in after["tags"]


def test_purge_is_idempotent_and_every_call_is_logged(db, world) -> None:
    db.execute("select purge_face_data_for_user(%s, %s)", (world["alice"], world["event"]))
    after_first = _snapshot(db)
    second = db.execute("select purge_face_data_for_user(%s, %s) as r",
                        (world["alice"], world["event"])).fetchone()["r"]
    assert second == {"faces_deleted": 0, "persons_deleted": 0, "tags_deleted": 0}
    assert _snapshot(db) == after_first
    log = db.execute("select scope, user_id, event_id, faces_deleted, persons_deleted, tags_deleted"
                     " from face_purge_log order by id").fetchall()
    assert [(r["scope"], r["user_id"], r["event_id"], r["faces_deleted"]) for r in log] == [
        ("user", world["alice"], world["event"], 2), ("user", world["alice"], world["event"], 0)]


def test_a_user_purge_records_an_opt_out_and_an_event_purge_does_not(db, world) -> None:
    db.execute("select purge_face_data_for_user(%s, %s)", (world["alice"], world["event"]))
    db.execute("select purge_face_data_for_user(%s, %s)", (world["alice"], world["event"]))
    db.execute("select purge_face_data_for_event(%s)", (world["other_event"],))
    opt_outs = db.execute("select event_id, user_id from face_recognition_opt_outs").fetchall()
    assert opt_outs == [{"event_id": world["event"], "user_id": world["alice"]}]


def test_a_user_may_purge_themself_but_not_someone_else(db, world) -> None:
    with as_api_user(db, "authenticated", world["bob"]), pytest.raises(
            psycopg.errors.InsufficientPrivilege, match="not allowed to purge"):
        db.execute("select purge_face_data_for_user(%s, %s)", (world["alice"], world["event"]))
    with as_api_user(db, "authenticated", world["alice"]):
        result = db.execute("select purge_face_data_for_user(%s, %s) as r",
                            (world["alice"], world["event"])).fetchone()["r"]
        assert result["faces_deleted"] == 2
        logged_by = db.execute("select requested_by from face_purge_log").fetchone()["requested_by"]
        assert logged_by == world["alice"]


def test_anon_cannot_call_the_purge(db, world) -> None:
    with as_api_user(db, "anon", None), pytest.raises(psycopg.errors.InsufficientPrivilege):
        db.execute("select purge_face_data_for_user(%s, %s)", (world["alice"], world["event"]))


def test_event_purge_removes_all_face_data_of_that_event_only(db, world) -> None:
    result = db.execute("select purge_face_data_for_event(%s) as r", (world["event"],)).fetchone()["r"]
    assert result["faces_deleted"] == 5
    remaining_events = {r["event_id"] for r in db.execute("select event_id from face_persons")}
    assert remaining_events == {world["other_event"]}
    assert db.execute("select count(*) as n from media_tags where source = 'manual'").fetchone()["n"] == 1
