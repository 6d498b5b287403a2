"""SQL that writes ``face_persons`` rows on behalf of clustering and of everything that moves faces.

A person's ``face_count`` and ``representative_face_id`` summarise the faces pointing at it, so
whoever moves faces ends by recounting the persons involved here (:func:`refresh_persons`), in
the same transaction. The reviewer's own actions on persons (link, merge, rename, ignore) are
in :mod:`shared.db.person_actions`; reading persons for the review page in
:mod:`shared.db.persons_read`.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping

import psycopg


def create_persons(conn: psycopg.Connection, event_id: uuid.UUID, model: str, count: int) -> list[uuid.UUID]:
    """``count`` new, empty persons for a clustering's new clusters; their faces follow in the same transaction."""
    if count == 0:
        return []
    rows = conn.execute(
        "insert into face_persons (event_id, model) select %s, %s from generate_series(1, %s) returning id",
        (event_id, model, count)).fetchall()
    return [row["id"] for row in rows]


def delete_persons(conn: psycopg.Connection, person_ids: Collection[uuid.UUID]) -> None:
    """Delete persons that no longer hold faces and that no user touched."""
    if person_ids:
        conn.execute(
            """
            delete from face_persons p
             where p.id = any(%s) and p.linked_user_id is null and p.display_name is null
               and not exists (select 1 from faces f where f.person_id = p.id)
               and not exists (select 1 from face_persons m where m.merged_into = p.id)
            """,
            (list(person_ids),))


def refresh_persons(conn: psycopg.Connection, person_ids: Collection[uuid.UUID]) -> None:
    """Recount faces and keep the representative face one of the person's own (else its best face)."""
    conn.execute(
        """
        update face_persons p
           set face_count = (select count(*) from faces f where f.person_id = p.id),
               representative_face_id = coalesce(
                   (select f.id from faces f where f.id = p.representative_face_id and f.person_id = p.id),
                   (select f.id from faces f where f.person_id = p.id
                     order by f.quality desc, f.det_score desc, f.id limit 1)),
               updated_at = now()
         where p.id = any(%s)
        """,
        (list(person_ids),),
    )


def set_person_summaries(conn: psycopg.Connection, representatives: Mapping[uuid.UUID, uuid.UUID | None]) -> None:
    """Recount faces and set the representative face of each person."""
    if not representatives:
        return
    ids = list(representatives)
    conn.execute(
        """
        update face_persons p
           set face_count = (select count(*) from faces f where f.person_id = p.id),
               representative_face_id = v.face_id, updated_at = now()
          from unnest(%s::uuid[], %s::uuid[]) as v(id, face_id)
         where p.id = v.id
        """,
        (ids, [representatives[i] for i in ids]))

