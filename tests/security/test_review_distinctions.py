"""Issue 16's table, attacked through the API roles: "not the same person" answers belong to organisers.

face_person_distinctions is reachable through Supabase's REST API like every table in
``public``: only an organiser of the event may add or withdraw an answer, members read them,
and no answer can name persons of another event or another model.
"""

from __future__ import annotations

import psycopg
import pytest

from tests.security.db_attack import TwoEvents, add_person, api_request, attempt, build_two_events, callers, snapshot


@pytest.fixture
def world(db: psycopg.Connection) -> TwoEvents:
    return build_two_events(db)


@pytest.fixture
def pair(db: psycopg.Connection, world: TwoEvents) -> dict:
    """Two persons of event A (one model) with an answer already given, and a third not yet answered."""
    second, third = add_person(db, world.a), add_person(db, world.a)
    a, b = sorted((world.person_a, second))
    db.execute("insert into face_person_distinctions (event_id, model, person_a, person_b) values (%s, 'yunet-dlib',"
               " %s, %s)", (world.a, a, b))
    low, high = sorted((world.person_a, third))
    return {**world.params(), "low": low, "high": high, "answered_a": a, "answered_b": b}


INSERT = ("insert into face_person_distinctions (event_id, model, person_a, person_b)"
          " values (%(a)s, 'yunet-dlib', %(low)s, %(high)s)")
DELETE = "delete from face_person_distinctions where event_id = %(a)s"
UPDATE = "update face_person_distinctions set created_by = %(stranger)s where event_id = %(a)s"
OUTSIDERS = ["anon", "stranger", "member_a", "organiser_b", "claims_service_role", "claims_service_role_with_sub",
             "no_sub", "anon_claiming_service_role"]


@pytest.mark.parametrize("who", OUTSIDERS)
@pytest.mark.parametrize("statement", [INSERT, DELETE, UPDATE])
def test_only_organisers_write_answers(db, world, pair, who: str, statement: str) -> None:
    before = snapshot(db)
    outcome = attempt(db, callers(world)[who], statement, pair)
    assert outcome in ("refused", "rows=0")
    assert snapshot(db) == before


@pytest.mark.parametrize("who", ["anon", "stranger", "organiser_b", "claims_service_role", "no_sub",
                                 "anon_claiming_service_role"])
def test_outsiders_read_no_answer(db, world, pair, who: str) -> None:
    try:
        with api_request(db, callers(world)[who]) as conn:
            rows = conn.execute("select * from face_person_distinctions").fetchall()
    except psycopg.Error:
        rows = []
    assert rows == []


def test_members_read_and_organisers_write_their_own_event(db, world, pair) -> None:
    with api_request(db, callers(world)["member_a"]) as conn:
        assert len(conn.execute("select person_a, person_b from face_person_distinctions").fetchall()) == 1
    assert attempt(db, callers(world)["organiser_a"], INSERT, pair) == "rows=1"  # the policy does let them in


@pytest.mark.parametrize("statement", [
    # B's organiser files an answer in B about A's persons.
    ("insert into face_person_distinctions (event_id, model, person_a, person_b)"
     " values (%(b)s, 'yunet-dlib', %(low)s, %(high)s)"),
    # ... or pairs B's person with one of A's.
    ("insert into face_person_distinctions (event_id, model, person_a, person_b)"
     " values (%(b)s, 'yunet-dlib', least(%(person_b)s, %(person_a)s), greatest(%(person_b)s, %(person_a)s))"),
])
def test_an_answer_cannot_reach_into_another_event(db, world, pair, statement: str) -> None:
    before = snapshot(db)
    assert attempt(db, callers(world)["organiser_b"], statement, pair) == "refused"
    assert snapshot(db) == before


@pytest.mark.parametrize("statement", [
    ("insert into face_person_distinctions (event_id, model, person_a, person_b) values (%(a)s, 'yunet-dlib',"
     " least(%(person_a)s, %(person_a_other_model)s), greatest(%(person_a)s, %(person_a_other_model)s))"),
    ("insert into face_person_distinctions (event_id, model, person_a, person_b)"
     " values (%(a)s, 'yunet-dlib', %(high)s, %(low)s)"),                                     # unordered twin
    ("insert into face_person_distinctions (event_id, model, person_a, person_b)"
     " values (%(a)s, 'yunet-dlib', %(person_a)s, %(person_a)s)"),                           # itself
])
def test_an_organiser_cannot_file_a_malformed_answer(db, world, pair, statement: str) -> None:
    before = snapshot(db)
    assert attempt(db, callers(world)["organiser_a"], statement, pair) == "refused"
    assert snapshot(db) == before


def test_an_answer_follows_its_persons_to_another_pack(db, world, pair) -> None:
    """Re-embedding (shared/db/reembed.py) changes every person's pack in one statement; answers follow."""
    with db.transaction():
        db.execute("set constraints all deferred")
        db.execute("delete from faces where event_id = %s", (world.a,))
        db.execute("update face_persons set representative_face_id = null where event_id = %s", (world.a,))
        db.execute("update face_persons set model = 'buffalo_l' where event_id = %s and model <> 'buffalo_l'",
                   (world.a,))
    rows = db.execute("select model, person_a, person_b from face_person_distinctions where event_id = %s",
                      (world.a,)).fetchall()
    assert rows == [{"model": "buffalo_l", "person_a": pair["answered_a"], "person_b": pair["answered_b"]}]
