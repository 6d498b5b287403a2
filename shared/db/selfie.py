"""SQL of selfie search: a person's photos and what the member may see (the nearest faces come from
:func:`shared.db.clustering_store.nearest_faces`, "not me" from :mod:`shared.db.not_me`).

The selfie's embedding is only ever a query parameter here: no statement writes it.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection

import psycopg

from shared.db.gdpr import acting_as_user


def person_media(conn: psycopg.Connection, person_id: uuid.UUID) -> list[uuid.UUID]:
    return [r["media_id"] for r in conn.execute(
        "select distinct media_id from faces where person_id = %s", (person_id,)).fetchall()]


def visible_media(conn: psycopg.Connection, user_id: uuid.UUID, media_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
    """Of ``media_ids``, those the member may see: asked as the member, so the app's RLS decides."""
    with acting_as_user(conn, user_id):
        return {r["id"] for r in conn.execute("select id from media where id = any(%s)",
                                              (list(media_ids),)).fetchall()}
