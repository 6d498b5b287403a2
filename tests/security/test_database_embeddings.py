"""Issue 13, item 6: raw face embeddings are not readable through the API roles, in any form."""

from __future__ import annotations

import psycopg
import pytest

from tests.security.db_attack import TwoEvents, api_request, attempt, build_two_events, callers, snapshot


@pytest.fixture
def world(db: psycopg.Connection) -> TwoEvents:
    return build_two_events(db)


READS = [
    ("member_a", "select embedding from faces"),
    ("member_a", "select * from faces"),
    ("member_a", "select f from faces f"),
    ("organiser_a", "select id from faces order by embedding <=> %(vector)s limit 1"),
    ("organiser_a", "select id from faces where embedding::text like '[0.1%%'"),
    ("organiser_a", "update faces set thumbnail = convert_to(embedding::text, 'utf8') where id = %(face_a)s"),
    ("organiser_a", "update faces set quality = quality where id = %(face_a)s returning embedding"),
    ("claims_service_role", "select embedding from faces"),
    ("anon", "select embedding from faces"),
]


@pytest.mark.parametrize(("who", "statement"), READS)
def test_embeddings_cannot_be_read_or_copied_out(db, world, who: str, statement: str) -> None:
    before = snapshot(db)
    outcome = attempt(db, callers(world)[who], statement, {**world.params(), "vector": str([0.1] * 128)})
    assert outcome == "refused"
    assert snapshot(db) == before


def test_members_still_read_everything_else_of_their_faces(db, world) -> None:
    with api_request(db, callers(world)["member_a"]):
        rows = db.execute("select id, media_id, person_id, bbox, quality, thumbnail from faces").fetchall()
    assert {row["media_id"] for row in rows} == {world.media_a} and len(rows) == 2
    assert all(row["thumbnail"] == b"jpeg" for row in rows)
