"""SQL that lists an event's persons and unassigned faces for the review page."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg

# A person as the review page shows it: counts and the representative face's thumbnail.
_PERSON_CARD = """
        select p.id, p.status, p.display_name, p.linked_user_id, p.merged_into, p.face_count,
               (select count(distinct f.media_id) from faces f where f.person_id = p.id) as media_count,
               p.representative_face_id, rep.thumbnail
          from face_persons p
          left join faces rep on rep.id = p.representative_face_id
"""


def list_persons(conn: psycopg.Connection, event_id: uuid.UUID, model: str, *, include_merged: bool,
                 limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
    """One page of persons by face count (largest first) with their thumbnail; and the total."""
    statuses = ["active", "ignored", "merged"] if include_merged else ["active", "ignored"]
    params = {"event": event_id, "model": model, "statuses": statuses, "limit": limit, "offset": offset}
    total = conn.execute("select count(*) as n from face_persons where event_id = %(event)s and model = %(model)s"
                         " and status = any(%(statuses)s)", params).fetchone()["n"]
    rows = conn.execute(
        _PERSON_CARD + """
         where p.event_id = %(event)s and p.model = %(model)s and p.status = any(%(statuses)s)
         order by p.face_count desc, p.id
         limit %(limit)s offset %(offset)s
        """,
        params,
    ).fetchall()
    return rows, total


def person_cards(conn: psycopg.Connection, event_id: uuid.UUID, model: str,
                 person_ids: list[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
    """The persons of the event and model among ``person_ids``, by id (others are absent)."""
    rows = conn.execute(_PERSON_CARD + " where p.event_id = %s and p.model = %s and p.id = any(%s)",
                        (event_id, model, person_ids)).fetchall()
    return {row["id"]: row for row in rows}


def person_faces(conn: psycopg.Connection, person_id: uuid.UUID, limit: int, offset: int) -> list[dict[str, Any]]:
    """One page of a person's faces, best first, for the person page."""
    return conn.execute(
        "select id as face_id, media_id, thumbnail, assignment, origin from faces where person_id = %s"
        " order by quality desc, id limit %s offset %s",
        (person_id, limit, offset)).fetchall()


def sample_faces(conn: psycopg.Connection, person_ids: list[uuid.UUID], per_person: int) -> list[dict[str, Any]]:
    """Up to ``per_person`` best faces of each person other than its representative."""
    return conn.execute(
        """
        select person_id, face_id, media_id, thumbnail from (
            select f.person_id, f.id as face_id, f.media_id, f.thumbnail,
                   row_number() over (partition by f.person_id order by f.quality desc, f.id) as rank
              from faces f join face_persons p on p.id = f.person_id
             where f.person_id = any(%s) and f.id is distinct from p.representative_face_id
        ) ranked
         where rank <= %s
         order by person_id, rank
        """,
        (person_ids, per_person),
    ).fetchall()


def get_person(conn: psycopg.Connection, person_id: uuid.UUID) -> dict[str, Any]:
    """The person as the action endpoint reports it after a change."""
    return conn.execute(
        "select p.id, p.status, p.display_name, p.linked_user_id, p.merged_into, p.face_count,"
        " (select count(distinct f.media_id) from faces f where f.person_id = p.id) as media_count"
        " from face_persons p where p.id = %s", (person_id,)).fetchone()


def count_unassigned(conn: psycopg.Connection, event_id: uuid.UUID, model: str) -> int:
    return conn.execute("select count(*) as n from faces where event_id = %s and model = %s and person_id is null",
                        (event_id, model)).fetchone()["n"]


def list_unassigned(conn: psycopg.Connection, event_id: uuid.UUID, model: str, limit: int) -> list[dict[str, Any]]:
    """The best unassigned faces first (those a reviewer can most easily place)."""
    return conn.execute(
        "select id as face_id, media_id, thumbnail from faces"
        " where event_id = %s and model = %s and person_id is null"
        " order by quality desc, id limit %s",
        (event_id, model, limit),
    ).fetchall()
