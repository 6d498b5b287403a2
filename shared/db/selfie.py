"""SQL of selfie search: the selfie's nearest faces and what the member may see ("not me": :mod:`shared.db.not_me`).

The selfie's embedding is only ever a query parameter here: no statement writes it.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from typing import Any

import numpy as np
import psycopg

from shared.db.clustering_store import SUPPORTED_DIMENSIONS
from shared.db.gdpr import acting_as_user


def nearest_event_faces(conn: psycopg.Connection, event_id: uuid.UUID, model: str, embedding: np.ndarray,
                        limit: int) -> list[dict[str, Any]]:
    """The ``limit`` faces of the event nearest to ``embedding`` (cosine distance): each with its
    active person, or none when it is in no person; faces of ignored persons are left out."""
    dim = len(embedding)
    if dim not in SUPPORTED_DIMENSIONS:
        raise ValueError(f"no nearest-neighbour index for {dim}-d embeddings")
    # As in incremental assignment: the HNSW scan precedes the event filter, so search wider.
    conn.execute("set local hnsw.ef_search = 400")
    return conn.execute(
        f"""
        select f.id, f.media_id, f.quality, p.id as person_id,
               f.embedding::vector({dim}) <=> %(q)s::vector({dim}) as distance
          from faces f left join face_persons p on p.id = f.person_id and p.status = 'active'
         where vector_dims(f.embedding) = {dim} and f.model = %(model)s and f.event_id = %(event)s
           and (f.person_id is null or p.id is not null)
         order by f.embedding::vector({dim}) <=> %(q)s::vector({dim})
         limit %(limit)s
        """,
        {"q": np.asarray(embedding, dtype=np.float32), "model": model, "event": event_id, "limit": limit},
    ).fetchall()


def person_media(conn: psycopg.Connection, person_id: uuid.UUID) -> list[uuid.UUID]:
    return [r["media_id"] for r in conn.execute(
        "select distinct media_id from faces where person_id = %s", (person_id,)).fetchall()]


def visible_media(conn: psycopg.Connection, user_id: uuid.UUID, media_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
    """Of ``media_ids``, those the member may see: asked as the member, so the app's RLS decides."""
    with acting_as_user(conn, user_id):
        return {r["id"] for r in conn.execute("select id from media where id = any(%s)",
                                              (list(media_ids),)).fetchall()}
