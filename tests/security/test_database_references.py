"""Issue 13, item 3: no row points into another event, or at a face or person of another model.

The organisers' write policies check only the row's own event; the composite foreign keys of
migration 20261129003200 make the cross-event row itself impossible, for every writer.
"""

from __future__ import annotations

import psycopg
import pytest

from tests.security.db_attack import OTHER_MODEL, TwoEvents, add_face, attempt, build_two_events, callers, snapshot

VECTOR = str([0.1] * 128)


@pytest.fixture
def world(db: psycopg.Connection) -> TwoEvents:
    return build_two_events(db)


CROSS_REFERENCES = [
    ("insert into ml_jobs (job_type, event_id, media_id, model) values ('detect', %(b)s, %(media_a)s, 'buffalo_l')"),
    ("insert into faces (event_id, media_id, model, bbox, landmarks, det_score, quality, embedding)"
     " values (%(b)s, %(media_a)s, 'yunet-dlib', '{0,0,1,1}', '{0,0,0,0,0,0,0,0,0,0}', 0.9, 0.9, %(vector)s)"),
    ("update faces set media_id = %(media_a)s where id = %(face_b)s"),
    ("update faces set person_id = %(person_a)s, assignment = 'user' where id = %(face_b)s"),
    ("update face_persons set status = 'merged', merged_into = %(person_a)s where id = %(person_b)s"),
    ("update face_persons set representative_face_id = %(face_a)s where id = %(person_b)s"),
    ("insert into media_tags (media_id, user_id, source, person_id) values (%(media_b)s, %(organiser_b)s, 'manual',"
     " %(person_a)s)"),
    ("insert into media_tags (media_id, user_id, source, event_id) values (%(media_a)s, %(organiser_b)s, 'manual',"
     " %(b)s)"),
    ("update faces set event_id = %(a)s where id = %(face_b)s"),
]

CROSS_MODEL = [
    ("update faces set person_id = %(person_a_other_model)s where id = %(face_a)s"),
    ("update face_persons set status = 'merged', merged_into = %(person_a_other_model)s where id = %(person_a)s"),
    ("update face_persons set representative_face_id = %(face_a)s where id = %(person_a_other_model)s"),
]


@pytest.mark.parametrize("statement", CROSS_REFERENCES)
def test_an_organiser_of_another_event_cannot_point_into_it(db, world, statement: str) -> None:
    before = snapshot(db)
    outcome = attempt(db, callers(world)["organiser_b"], statement, {**world.params(), "vector": VECTOR})
    assert outcome == "refused"
    assert snapshot(db) == before


@pytest.mark.parametrize("statement", CROSS_MODEL)
def test_an_organiser_cannot_mix_models_in_their_own_event(db, world, statement: str) -> None:
    before = snapshot(db)
    assert attempt(db, callers(world)["organiser_a"], statement, world.params()) == "refused"
    assert snapshot(db) == before


@pytest.mark.parametrize("statement", CROSS_REFERENCES + CROSS_MODEL)
def test_the_backend_is_held_to_the_same_references(db, world, statement: str) -> None:
    """The keys bind every writer, not only the API roles (the owner bypasses row-level security)."""
    before = snapshot(db)
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        db.execute(statement, {**world.params(), "vector": VECTOR})
    assert snapshot(db) == before


def test_a_tag_takes_its_media_event_when_the_app_does_not_name_it(db, world) -> None:
    db.execute("insert into media_tags (media_id, user_id, source) values (%s, %s, 'manual')",
               (world.media_b, world.organiser_b))
    assert db.execute("select event_id from media_tags where media_id = %s",
                      (world.media_b,)).fetchone()["event_id"] == world.b


def test_a_re_embedding_changes_persons_model_and_faces_in_one_transaction(db, world) -> None:
    """What a model change needs: persons switch model while their faces are replaced, checked at commit."""
    with db.transaction():
        db.execute("set constraints all deferred")
        db.execute("update face_persons set model = %s, representative_face_id = null where id = %s",
                   (OTHER_MODEL, world.person_a))
        db.execute("delete from faces where person_id = %s", (world.person_a,))
        add_face(db, world.a, world.media_a, world.person_a, OTHER_MODEL)
    assert db.execute("select count(*) as n from faces where person_id = %s and model = %s",
                      (world.person_a, OTHER_MODEL)).fetchone()["n"] == 1
    with pytest.raises(psycopg.errors.ForeignKeyViolation), db.transaction():
        db.execute("set constraints all deferred")
        db.execute("update face_persons set model = 'yunet-dlib' where id = %s", (world.person_a,))
