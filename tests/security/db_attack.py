"""Attacking the database the way Supabase's REST API reaches it, and checking it did not move.

PostgREST runs every request as one transaction in which it sets the role named by the
(verified) JWT and publishes the claims in ``request.jwt.claims``; the request commits unless
a statement fails. :func:`api_request` does exactly that on a test connection, and
:func:`snapshot` reads every row of every table as the owner, so a test can assert that a
refused request left the database as it was (not merely that it raised).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg

from tests.factories import add_member, make_event, make_media

MODEL = "yunet-dlib"
OTHER_MODEL = "buffalo_l"


@dataclass(frozen=True)
class Caller:
    """Who sends a request: the role the API key / JWT selects and the claims it carries."""

    name: str
    role: str
    claims: dict[str, Any]


@contextmanager
def api_request(db: psycopg.Connection, caller: Caller) -> Iterator[psycopg.Connection]:
    """One REST request: role and claims set for one transaction, committed unless it fails."""
    with db.transaction():
        db.execute(f"set local role {caller.role}")
        db.execute("select set_config('request.jwt.claims', %s, true)", (json.dumps(caller.claims),))
        yield db


def attempt(db: psycopg.Connection, caller: Caller, statement: str, params: dict[str, Any]) -> str:
    """Run ``statement`` as ``caller``; 'refused' when the database raised, else 'rows=N'."""
    try:
        with api_request(db, caller) as conn:
            cursor = conn.execute(statement, params)
            return f"rows={cursor.rowcount}"
    except psycopg.Error:
        return "refused"


def snapshot(db: psycopg.Connection) -> dict[str, list[str]]:
    """Every row of every table in ``public``, as text (the database's whole state for these tests)."""
    tables = [row["tablename"] for row in db.execute(
        "select tablename from pg_tables where schemaname = 'public' order by 1")]
    return {table: sorted(row["r"] for row in db.execute(f"select t::text as r from public.{table} t"))
            for table in tables}


def add_face(db: psycopg.Connection, event_id: uuid.UUID, media_id: uuid.UUID, person_id: uuid.UUID | None,
             model: str = MODEL) -> uuid.UUID:
    dim = 128 if model == MODEL else 512
    return db.execute(
        "insert into faces (event_id, media_id, model, bbox, landmarks, det_score, quality, embedding, thumbnail,"
        " person_id, assignment) values (%s, %s, %s, %s, %s, 0.9, 0.9, %s, 'jpeg', %s, %s) returning id",
        (event_id, media_id, model, [0, 0, 1, 1], [0.0] * 10, str([0.1] * dim), person_id,
         person_id and "cluster")).fetchone()["id"]


def add_person(db: psycopg.Connection, event_id: uuid.UUID, model: str = MODEL,
               linked_user_id: uuid.UUID | None = None) -> uuid.UUID:
    return db.execute("insert into face_persons (event_id, model, linked_user_id) values (%s, %s, %s) returning id",
                      (event_id, model, linked_user_id)).fetchone()["id"]


@dataclass(frozen=True)
class TwoEvents:
    """Event A is attacked; event B belongs to an attacker who organises it.

    A has an organiser, a member linked to a person with faces and face tags, a member who
    opted out, a detect job, and a second model's person. Nobody in ``stranger`` belongs anywhere.
    """

    a: uuid.UUID
    b: uuid.UUID
    organiser_a: uuid.UUID
    member_a: uuid.UUID
    opted_out_a: uuid.UUID
    organiser_b: uuid.UUID
    stranger: uuid.UUID
    media_a: uuid.UUID
    media_b: uuid.UUID
    person_a: uuid.UUID
    person_a_other_model: uuid.UUID
    person_b: uuid.UUID
    face_a: uuid.UUID
    face_b: uuid.UUID

    def params(self) -> dict[str, Any]:
        return dict(vars(self))


def build_two_events(db: psycopg.Connection) -> TwoEvents:
    organiser_a, organiser_b = uuid.uuid4(), uuid.uuid4()
    a, b = make_event(db, owner_id=organiser_a), make_event(db, owner_id=organiser_b)
    member_a, opted_out_a = add_member(db, a), add_member(db, a)
    db.execute("insert into face_recognition_opt_outs (event_id, user_id) values (%s, %s)", (a, opted_out_a))
    media_a, media_b = make_media(db, a), make_media(db, b)
    person_a, person_b = add_person(db, a, linked_user_id=member_a), add_person(db, b)
    person_a_other_model = add_person(db, a, OTHER_MODEL)
    face_a, face_b = add_face(db, a, media_a, person_a), add_face(db, b, media_b, person_b)
    add_face(db, a, media_a, person_a_other_model, OTHER_MODEL)
    db.execute("update face_persons set face_count = 1, representative_face_id = %s where id = %s", (face_a, person_a))
    db.execute("insert into media_tags (media_id, user_id, source, person_id) values (%s, %s, 'face', %s)",
               (media_a, member_a, person_a))
    db.execute("insert into ml_jobs (job_type, event_id, media_id, model) values ('detect', %s, %s, %s)",
               (a, media_a, MODEL))
    return TwoEvents(a, b, organiser_a, member_a, opted_out_a, organiser_b, uuid.uuid4(), media_a, media_b,
                     person_a, person_a_other_model, person_b, face_a, face_b)


def callers(world: TwoEvents) -> dict[str, Caller]:
    """Everyone the issue attacked as, keyed by a short name."""
    def user(name: str, user_id: uuid.UUID) -> Caller:
        return Caller(name, "authenticated", {"role": "authenticated", "sub": str(user_id)})
    return {
        "anon": Caller("anon", "anon", {"role": "anon"}),
        "stranger": user("stranger", world.stranger),
        "member_a": user("member_a", world.member_a),
        "organiser_a": user("organiser_a", world.organiser_a),
        "organiser_b": user("organiser_b", world.organiser_b),
        "claims_service_role": Caller("claims_service_role", "authenticated", {"role": "service_role"}),
        "claims_service_role_with_sub": Caller("claims_service_role_with_sub", "authenticated",
                                               {"role": "service_role", "sub": str(world.organiser_b)}),
        "no_sub": Caller("no_sub", "authenticated", {"role": "authenticated"}),
        "anon_claiming_service_role": Caller("anon_claiming_service_role", "anon", {"role": "service_role"}),
    }
