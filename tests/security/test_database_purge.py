"""Issue 13, item 5: the purge functions authorise the session's real role and auth.uid(), not its claims."""

from __future__ import annotations

import psycopg
import pytest

from tests.security.db_attack import Caller, TwoEvents, api_request, attempt, build_two_events, callers, snapshot

PURGE_EVENT = "select purge_face_data_for_event(%(a)s)"
PURGE_MEMBER = "select purge_face_data_for_user(%(member_a)s, %(a)s)"

REFUSED = [
    *((who, PURGE_EVENT) for who in ("anon", "anon_claiming_service_role", "stranger", "member_a", "organiser_b",
                                     "claims_service_role", "claims_service_role_with_sub", "no_sub")),
    *((who, PURGE_MEMBER) for who in ("anon", "anon_claiming_service_role", "stranger", "organiser_b",
                                      "claims_service_role", "claims_service_role_with_sub", "no_sub")),
]


@pytest.fixture
def world(db: psycopg.Connection) -> TwoEvents:
    return build_two_events(db)


@pytest.mark.parametrize(("who", "statement"), REFUSED)
def test_a_purge_of_someone_elses_data_is_refused_and_not_logged(db, world, who: str, statement: str) -> None:
    before = snapshot(db)
    assert attempt(db, callers(world)[who], statement, world.params()) == "refused"
    assert snapshot(db) == before


@pytest.mark.parametrize(("who", "statement"), [
    ("organiser_a", PURGE_EVENT), ("organiser_a", PURGE_MEMBER), ("member_a", PURGE_MEMBER)])
def test_the_user_themself_and_organisers_may_purge(db, world, who: str, statement: str) -> None:
    with api_request(db, callers(world)[who]):
        db.execute(statement, world.params())
    requested_by = db.execute("select requested_by from face_purge_log").fetchone()["requested_by"]
    assert str(requested_by) == callers(world)[who].claims["sub"]
    assert db.execute("select count(*) as n from face_persons where linked_user_id = %s",
                      (world.member_a,)).fetchone()["n"] == 0


@pytest.mark.parametrize("statement", [PURGE_EVENT, PURGE_MEMBER])
def test_the_real_service_role_and_the_backend_may_purge_without_a_user(db, world, statement: str) -> None:
    with api_request(db, Caller("service_role", "service_role", {"role": "service_role"})):
        db.execute(statement, world.params())
    db.execute(statement, world.params())  # the owner's connection, no role switch, no claims
    assert [r["requested_by"] for r in db.execute("select requested_by from face_purge_log")] == [None, None]
