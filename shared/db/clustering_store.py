"""SQL of clustering: load an event's faces of one model, write a clustering, incremental look-ups.

Every query filters on ``model``: embeddings of different models share the ``embedding``
column and must never be compared. Nearest-neighbour queries use exactly the expression and
predicate of the partial HNSW indexes (``embedding::vector(128) <=> %s::vector(128)`` with
``vector_dims(embedding) = 128``, and the 256 and 512 ones), so PostgreSQL can use them.

:func:`write_clustering` runs inside the caller's transaction, which must hold
:func:`shared.db.events.lock_event_face_data`: persons, memberships, face counts,
representative faces and face tags change together or not at all.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import psycopg

from shared.db.face_tags import sync_face_tags
from shared.db.persons import delete_persons, refresh_persons, set_person_summaries

SUPPORTED_DIMENSIONS = (128, 256, 512)


@dataclass(frozen=True)
class EventFaces:
    """An event's faces of one model, as arrays (row i = face i)."""

    face_ids: list[uuid.UUID]
    media_ids: list[uuid.UUID]
    embeddings: np.ndarray      # (n, d) float32
    quality: np.ndarray         # (n,)
    person_ids: list[uuid.UUID | None]


def _as_array(value: Any) -> np.ndarray:
    """pgvector returns ``Vector`` objects (or arrays, depending on its version): always an array."""
    return np.asarray(value.to_numpy() if hasattr(value, "to_numpy") else value, dtype=np.float32)


def load_event_faces(conn: psycopg.Connection, event_id: uuid.UUID, model: str) -> EventFaces:
    rows = conn.execute(
        "select id, media_id, embedding, quality, person_id from faces"
        " where event_id = %s and model = %s order by id",
        (event_id, model)).fetchall()
    dim = len(_as_array(rows[0]["embedding"])) if rows else 0
    embeddings = np.zeros((len(rows), dim), dtype=np.float32)
    for i, row in enumerate(rows):
        embeddings[i] = _as_array(row["embedding"])
    return EventFaces([r["id"] for r in rows], [r["media_id"] for r in rows], embeddings,
                      np.array([r["quality"] for r in rows], dtype=np.float32), [r["person_id"] for r in rows])


def load_face_states(conn: psycopg.Connection, event_id: uuid.UUID, model: str) -> list[dict[str, Any]]:
    """Current membership of every face (re-read under the event lock just before writing)."""
    return conn.execute(
        "select id, media_id, person_id, assignment, rejected_person_ids from faces"
        " where event_id = %s and model = %s",
        (event_id, model)).fetchall()


def load_persons(conn: psycopg.Connection, event_id: uuid.UUID, model: str) -> list[dict[str, Any]]:
    """Persons of the event and model, with whether users own them (see ``shared.clustering.reconcile``)."""
    return conn.execute(
        """
        select p.id, p.status, p.representative_face_id,
               (p.linked_user_id is not null or p.display_name is not null
                or exists (select 1 from face_persons m where m.merged_into = p.id)
                or exists (select 1 from faces f where f.person_id = p.id and f.assignment = 'user')
                or exists (select 1 from face_person_distinctions d
                            where d.event_id = p.event_id and p.id in (d.person_a, d.person_b))
                or exists (select 1 from face_person_not_me n where n.person_id = p.id)) as user_owned
          from face_persons p
         where p.event_id = %s and p.model = %s
        """,
        (event_id, model)).fetchall()


def move_faces(conn: psycopg.Connection, moves: Mapping[uuid.UUID, tuple[uuid.UUID | None, str | None]]) -> None:
    """Set ``person_id`` / ``assignment`` of many faces in one statement."""
    if not moves:
        return
    ids = list(moves)
    conn.execute(
        """
        update faces f set person_id = v.person_id, assignment = v.assignment, updated_at = now()
          from unnest(%s::uuid[], %s::uuid[], %s::text[]) as v(id, person_id, assignment)
         where f.id = v.id
        """,
        (ids, [moves[i][0] for i in ids], [moves[i][1] for i in ids]))


def write_clustering(conn: psycopg.Connection, *, moves: Mapping[uuid.UUID, tuple[uuid.UUID | None, str | None]],
                     deleted_persons: Collection[uuid.UUID], representatives: Mapping[uuid.UUID, uuid.UUID | None],
                     affected_media: Collection[uuid.UUID]) -> None:
    """Apply a reconciled clustering (new persons already created) and bring face tags in line."""
    move_faces(conn, moves)
    set_person_summaries(conn, representatives)
    delete_persons(conn, deleted_persons)
    sync_face_tags(conn, affected_media)


def event_summary(conn: psycopg.Connection, event_id: uuid.UUID, model: str) -> dict[str, int]:
    """Active persons, and faces in them, of the event and model."""
    return conn.execute(
        """
        select count(*) as persons, coalesce(sum(p.face_count), 0)::int as assigned
          from face_persons p where p.event_id = %s and p.model = %s and p.status = 'active'
        """,
        (event_id, model)).fetchone()


# Incremental assignment -------------------------------------------------------------------


def faces_for_assignment(conn: psycopg.Connection, event_id: uuid.UUID,
                         face_ids: Collection[uuid.UUID]) -> list[dict[str, Any]]:
    """The still-unassigned faces among ``face_ids`` (locked: a concurrent call skips them)."""
    rows = conn.execute(
        """
        select id, media_id, model, embedding, quality, rejected_person_ids from faces
         where event_id = %s and id = any(%s) and person_id is null
         order by id for update skip locked
        """,
        (event_id, list(face_ids))).fetchall()
    return [{**row, "embedding": _as_array(row["embedding"])} for row in rows]


def nearest_faces(conn: psycopg.Connection, event_id: uuid.UUID, model: str, embedding: np.ndarray, limit: int,
                  *, include_loose: bool = False) -> list[dict[str, Any]]:
    """The ``limit`` faces of the event nearest to ``embedding``, nearest first, with ``distance``
    already Euclidean on the unit sphere (``sqrt(2 - 2 cos)``, the unit of every clustering rule).

    Faces of active persons only (incremental assignment), or with ``include_loose`` also faces in
    no person (selfie search; ``person_id`` is then None). Faces of ignored persons never count.
    """
    dim = len(embedding)
    if dim not in SUPPORTED_DIMENSIONS:
        raise ValueError(f"no nearest-neighbour index for {dim}-d embeddings")
    in_person = "(f.person_id is null or p.id is not null)" if include_loose else "p.id is not null"
    # The HNSW index is scanned before the event/person filters apply: search wider than the
    # default 40 candidates so that an event's faces are found in a table of many events.
    conn.execute("set local hnsw.ef_search = 400")
    return conn.execute(
        f"""
        select f.id, f.person_id, f.media_id, f.quality,
               sqrt(greatest(0, 2 * (f.embedding::vector({dim}) <=> %(q)s::vector({dim})))) as distance
          from faces f left join face_persons p on p.id = f.person_id and p.status = 'active'
         where vector_dims(f.embedding) = {dim} and f.model = %(model)s and f.event_id = %(event)s
           and {in_person}
         order by f.embedding::vector({dim}) <=> %(q)s::vector({dim})
         limit %(limit)s
        """,
        {"q": np.asarray(embedding, dtype=np.float32), "model": model, "event": event_id, "limit": limit},
    ).fetchall()


def person_on_photo(conn: psycopg.Connection, person_id: uuid.UUID, media_id: uuid.UUID) -> bool:
    """Whether the person already has a face on the photo (cannot-link)."""
    return conn.execute("select exists (select 1 from faces where person_id = %s and media_id = %s) as found",
                        (person_id, media_id)).fetchone()["found"]


def assign_faces(conn: psycopg.Connection, assignments: Mapping[uuid.UUID, uuid.UUID]) -> None:
    """Attach faces to persons as incremental assignments and recount those persons."""
    move_faces(conn, {face: (person, "incremental") for face, person in assignments.items()})
    refresh_persons(conn, set(assignments.values()))
