"""Issue 13, item 4: only members who have not opted out are linked to a person or face-tagged.

Enforced by the database (migration 20261129003300) for the API roles and the backend alike;
face-person-actions keeps answering 409 from its own checks and from the database's refusal.
"""

from __future__ import annotations

import psycopg
import pytest

from shared.db.face_tags import sync_face_tags
from shared.db.person_actions import PersonActionError, assign
from tests.security.db_attack import TwoEvents, attempt, build_two_events, callers, snapshot


@pytest.fixture
def world(db: psycopg.Connection) -> TwoEvents:
    return build_two_events(db)


NOT_RECOGNISABLE = [
    "update face_persons set linked_user_id = %(stranger)s where id = %(person_a)s",
    "update face_persons set linked_user_id = %(opted_out_a)s where id = %(person_a)s",
    "update face_persons set linked_user_id = %(organiser_b)s where id = %(person_a_other_model)s",
    "insert into face_persons (event_id, model, linked_user_id) values (%(a)s, 'yunet-dlib', %(opted_out_a)s)",
    "insert into media_tags (media_id, user_id, source) values (%(media_a)s, %(stranger)s, 'face')",
    "insert into media_tags (media_id, user_id, source) values (%(media_a)s, %(opted_out_a)s, 'face')",
    "update media_tags set user_id = %(opted_out_a)s where media_id = %(media_a)s",
]


@pytest.mark.parametrize("statement", NOT_RECOGNISABLE)
def test_an_organiser_cannot_link_or_tag_a_non_member_or_an_opted_out_member(db, world, statement: str) -> None:
    before = snapshot(db)
    assert attempt(db, callers(world)["organiser_a"], statement, world.params()) == "refused"
    assert snapshot(db) == before


@pytest.mark.parametrize("statement", NOT_RECOGNISABLE)
def test_the_backend_cannot_either(db, world, statement: str) -> None:
    before = snapshot(db)
    with pytest.raises(psycopg.errors.CheckViolation, match=r"not a member of event .* or has opted out"):
        db.execute(statement, world.params())
    assert snapshot(db) == before


def test_members_are_still_linked_and_tagged(db, world) -> None:
    """The rule is not a blanket refusal: the organiser links a member, manual tags are the app's."""
    params = world.params()
    assert attempt(db, callers(world)["organiser_a"], "update face_persons set linked_user_id = %(member_a)s"
                   " where id = %(person_a_other_model)s", params) == "rows=1"
    assert attempt(db, callers(world)["organiser_a"], "insert into media_tags (media_id, user_id, source)"
                   " values (%(media_a)s, %(stranger)s, 'manual')", params) == "rows=1"
    assert db.execute("select event_id from media_tags where user_id = %s",
                      (world.stranger,)).fetchone()["event_id"] == world.a


def test_assign_answers_a_conflict_when_the_database_refuses_the_link(db, world) -> None:
    """face-person-actions checks membership first; a user who left meanwhile still gets a 409, not a 500."""
    with pytest.raises(PersonActionError) as refused, db.transaction():
        assign(db, world.a, world.person_a_other_model, world.stranger)
    assert (refused.value.kind, refused.value.code) == ("conflict", "user_not_linkable")


def test_a_member_who_leaves_loses_face_tags_and_syncing_still_works(db, world) -> None:
    db.execute("delete from event_members where event_id = %s and user_id = %s", (world.a, world.member_a))
    assert sync_face_tags(db, [world.media_a]) == {"tags_added": 0, "tags_removed": 1}
    assert db.execute("select count(*) as n from media_tags where user_id = %s",
                      (world.member_a,)).fetchone()["n"] == 0
