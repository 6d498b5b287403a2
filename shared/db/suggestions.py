"""SQL of merge suggestions and "not the same person" (the rule: :mod:`shared.clustering.suggestions`).

Suggestions are computed on demand from the stored embeddings with pgvector: each active
person's centre is ``avg(embedding)`` of its faces (pgvector's vector mean), pairs are scored by
``1 - (centre <=> centre)`` (cosine similarity) and filtered in the database, so only the few
pairs above the threshold leave it. An event of 5,000 faces is a few hundred persons, tens of
thousands of pairs: ``bench/merge_suggestions.py`` times it.
"""

from __future__ import annotations

import uuid
from typing import Any

import psycopg


def list_suggestions(conn: psycopg.Connection, event_id: uuid.UUID, model: str, threshold: float,
                     limit: int) -> list[dict[str, Any]]:
    """Rows ``{a, b, score}`` (``a < b``), best first, for the event's active persons of ``model``."""
    return conn.execute(
        """
        with centres as (
            select f.person_id as id, avg(f.embedding) as centre
              from faces f join face_persons p on p.id = f.person_id
             where f.event_id = %(event)s and f.model = %(model)s and p.status = 'active'
             group by f.person_id
        ), pairs as (
            select a.id as a, b.id as b, round((1 - (a.centre <=> b.centre))::numeric, 4)::float8 as score
              from centres a join centres b on a.id < b.id
        )
        select pairs.a, pairs.b, pairs.score from pairs
         where pairs.score >= %(threshold)s
           and not exists (select 1 from faces fa join faces fb on fb.media_id = fa.media_id
                            where fa.person_id = pairs.a and fb.person_id = pairs.b)
           and not exists (select 1 from face_person_distinctions d
                            where d.event_id = %(event)s and d.person_a = pairs.a and d.person_b = pairs.b)
         order by pairs.score desc, pairs.a, pairs.b
         limit %(limit)s
        """,
        {"event": event_id, "model": model, "threshold": threshold, "limit": limit}).fetchall()


def record_distinction(conn: psycopg.Connection, event_id: uuid.UUID, model: str, person: uuid.UUID,
                       other: uuid.UUID, user_id: uuid.UUID | None) -> bool:
    """Remember that the two persons are different (idempotent); True when it is new."""
    a, b = sorted((person, other))
    return conn.execute(
        "insert into face_person_distinctions (event_id, model, person_a, person_b, created_by)"
        " values (%s, %s, %s, %s, %s) on conflict do nothing",
        (event_id, model, a, b, user_id)).rowcount == 1


def inherit_distinctions(conn: psycopg.Connection, event_id: uuid.UUID, merged: uuid.UUID,
                         into: uuid.UUID) -> None:
    """A merged person's "different from X" now holds for the person it went into.

    The merged person is a part of ``into``: whoever differs from the part differs from the whole.
    """
    conn.execute(
        """
        insert into face_person_distinctions (event_id, model, person_a, person_b, created_by)
        select d.event_id, d.model, least(other.id, %(into)s), greatest(other.id, %(into)s), d.created_by
          from face_person_distinctions d
          cross join lateral (select case when d.person_a = %(merged)s then d.person_b else d.person_a end as id) other
         where d.event_id = %(event)s and %(merged)s in (d.person_a, d.person_b) and other.id <> %(into)s
        on conflict do nothing
        """,
        {"event": event_id, "merged": merged, "into": into})
