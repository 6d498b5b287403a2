"""Issue 13, item 1: events, event_members and media through the REST API's roles.

Members read their events, memberships and media; nobody writes them through the API roles;
face_recognition_enabled changes only through face-person-actions, whatever the app grants.
"""

from __future__ import annotations

import psycopg
import pytest

from tests.factories import make_event
from tests.security.db_attack import TwoEvents, api_request, attempt, build_two_events, callers, snapshot


@pytest.fixture
def world(db: psycopg.Connection) -> TwoEvents:
    return build_two_events(db)


ATTACKS = [
    ("anon", "select * from events"),
    ("anon", "update events set owner_id = gen_random_uuid()"),
    ("anon", "update media set storage_path = 'file:///etc/passwd'"),
    ("anon", "insert into events (owner_id, name) values (gen_random_uuid(), 'mine')"),
    ("anon", "insert into event_members (event_id, user_id, role) values (%(a)s, gen_random_uuid(), 'organiser')"),
    ("anon", "delete from media"),
    ("stranger", "insert into event_members (event_id, user_id, role) values (%(a)s, %(stranger)s, 'organiser')"),
    ("stranger", "update events set face_recognition_enabled = false"),
    ("stranger", "update events set owner_id = %(stranger)s where id = %(a)s"),
    ("member_a", "update events set face_recognition_enabled = false where id = %(a)s"),
    ("member_a", "update event_members set role = 'organiser' where user_id = %(member_a)s"),
    ("member_a", "update media set storage_path = 'file:///etc/passwd' where event_id = %(a)s"),
    ("member_a", "insert into media (event_id, storage_path) values (%(a)s, '../../etc/passwd')"),
    ("member_a", "delete from event_members where event_id = %(a)s"),
    ("organiser_a", "update events set face_recognition_enabled = false where id = %(a)s"),
    ("organiser_a", "insert into event_members (event_id, user_id, role) values (%(a)s, %(stranger)s, 'member')"),
    ("organiser_a", "delete from media where event_id = %(a)s"),
    ("organiser_b", "insert into event_members (event_id, user_id, role) values (%(a)s, %(organiser_b)s, 'organiser')"),
    ("organiser_b", "update events set owner_id = %(organiser_b)s where id = %(a)s"),
    ("claims_service_role", "update events set face_recognition_enabled = false"),
    ("claims_service_role", "insert into event_members (event_id, user_id, role)"
                            " values (%(a)s, gen_random_uuid(), 'organiser')"),
]


@pytest.mark.parametrize(("who", "statement"), ATTACKS)
def test_api_roles_cannot_write_the_app_tables(db, world, who: str, statement: str) -> None:
    before = snapshot(db)
    assert attempt(db, callers(world)[who], statement, world.params()) in ("refused", "rows=0")
    assert snapshot(db) == before


def _visible(db: psycopg.Connection) -> dict[str, set]:
    return {"events": {r["id"] for r in db.execute("select id from events")},
            "members": {(r["event_id"], r["user_id"])
                        for r in db.execute("select event_id, user_id from event_members")},
            "media": {r["id"] for r in db.execute("select id from media")}}


def test_members_read_their_events_memberships_and_media_only(db, world) -> None:
    everyone = callers(world)
    with api_request(db, everyone["member_a"]):
        seen = _visible(db)
    assert seen["events"] == {world.a}
    assert {event for event, _ in seen["members"]} == {world.a}
    assert (world.a, world.member_a) in seen["members"]
    assert seen["media"] == {world.media_a}
    with api_request(db, everyone["stranger"]):
        assert _visible(db) == {"events": set(), "members": set(), "media": set()}
    with api_request(db, everyone["anon"]), pytest.raises(psycopg.errors.InsufficientPrivilege):
        _visible(db)


def test_the_switch_resists_an_app_that_grants_updates_on_events(db, world) -> None:
    """An app whose own policies let organisers update their event still cannot flip the switch directly."""
    disabled = make_event(db, owner_id=world.organiser_a, enabled=False)
    with db.transaction(force_rollback=True):
        db.execute("grant insert, update on events to authenticated")
        db.execute("create policy app_organiser_update on events for update to authenticated"
                   " using (is_event_organiser(id))")
        db.execute("create policy app_insert on events for insert to authenticated with check (true)")
        with api_request(db, callers(world)["organiser_a"]):
            assert db.execute("update events set name = 'renamed' where id = %s", (disabled,)).rowcount == 1
            for statement, params in (
                    ("update events set face_recognition_enabled = true where id = %s", (disabled,)),
                    ("update events set face_recognition_enabled = false where id = %s", (world.a,)),
                    ("insert into events (owner_id, name, face_recognition_enabled) values (%s, 'x', true)",
                     (world.organiser_a,))):
                with pytest.raises(psycopg.errors.InsufficientPrivilege, match="face-person-actions"), db.transaction():
                    db.execute(statement, params)
            assert db.execute("select face_recognition_enabled from events where id = %s",
                              (disabled,)).fetchone()["face_recognition_enabled"] is False
