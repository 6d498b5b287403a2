"""SQL of ``event_face_models``: the model pack an event's face data belongs to.

An event never mixes packs (their embeddings cannot be compared). The row is written when the
event's first faces are stored (:func:`pin_event_model`) and changed only by a re-embedding,
in the transaction that replaces the faces (:func:`move_event_model`). Until an event has a
row, the current ``MODEL_PACK`` applies (:func:`event_model`).
"""

from __future__ import annotations

import uuid

import psycopg


def pinned_model(conn: psycopg.Connection, event_id: uuid.UUID) -> str | None:
    """The pack the event's face data belongs to; None while the event has none."""
    row = conn.execute("select model from event_face_models where event_id = %s", (event_id,)).fetchone()
    return row["model"] if row else None


def event_model(conn: psycopg.Connection, event_id: uuid.UUID, default: str) -> str:
    """The pack to analyse, assign and cluster the event with: its own, else ``default`` (MODEL_PACK)."""
    return pinned_model(conn, event_id) or default


def pin_event_model(conn: psycopg.Connection, event_id: uuid.UUID, model: str) -> str:
    """Record ``model`` as the event's pack unless it has one; return the event's pack.

    Called where faces are stored, in their transaction. The row is read ``for share``, so a
    re-embedding (which updates it) waits for this transaction and the faces it stores, and
    the caller can refuse to store faces of a pack that is not the event's.
    """
    conn.execute("insert into event_face_models (event_id, model) values (%s, %s) on conflict (event_id) do nothing",
                 (event_id, model))
    return conn.execute("select model from event_face_models where event_id = %s for share",
                        (event_id,)).fetchone()["model"]


def move_event_model(conn: psycopg.Connection, event_id: uuid.UUID, model: str) -> None:
    """Make ``model`` the event's pack (a re-embedding, in the transaction that replaces the faces)."""
    conn.execute(
        """
        insert into event_face_models (event_id, model) values (%s, %s)
        on conflict (event_id) do update set model = excluded.model, updated_at = now()
        """,
        (event_id, model))


def unpin_event_model(conn: psycopg.Connection, event_id: uuid.UUID) -> None:
    """Forget the event's pack once its face data is erased: a fresh start takes MODEL_PACK."""
    conn.execute("delete from event_face_models where event_id = %s", (event_id,))
