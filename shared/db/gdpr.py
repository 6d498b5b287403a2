"""Run the GDPR purge functions as the requesting user, so the database checks and logs who asked.

``purge_face_data_for_user`` / ``purge_face_data_for_event`` check the caller with
``auth.uid()`` and write it to ``face_purge_log.requested_by``. Running them under the
user's own claims (what PostgREST would do) keeps that check and that record meaningful even
though the backend connection could bypass both.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg


@contextmanager
def acting_as_user(conn: psycopg.Connection, user_id: uuid.UUID) -> Iterator[None]:
    """Within the current transaction: role ``authenticated`` with the user's JWT claims, then back."""
    claims = {"sub": str(user_id), "role": "authenticated"}
    conn.execute("set local role authenticated")
    conn.execute("select set_config('request.jwt.claims', %s, true)", (json.dumps(claims),))
    yield
    # Only on success: after an error the transaction is aborted and its rollback undoes both.
    conn.execute("reset role")
    conn.execute("select set_config('request.jwt.claims', '', true)")


def purge_user_face_data(conn: psycopg.Connection, user_id: uuid.UUID, event_id: uuid.UUID) -> dict[str, Any]:
    with acting_as_user(conn, user_id):
        return conn.execute("select purge_face_data_for_user(%s, %s) as r", (user_id, event_id)).fetchone()["r"]


def purge_event_face_data(conn: psycopg.Connection, requested_by: uuid.UUID, event_id: uuid.UUID) -> dict[str, Any]:
    with acting_as_user(conn, requested_by):
        return conn.execute("select purge_face_data_for_event(%s) as r", (event_id,)).fetchone()["r"]


def opt_back_in(conn: psycopg.Connection, user_id: uuid.UUID, event_id: uuid.UUID) -> bool:
    """Lift the user's opt-out (recorded by their purge); whether there was one."""
    return conn.execute("delete from face_recognition_opt_outs where event_id = %s and user_id = %s",
                        (event_id, user_id)).rowcount > 0


def opted_out(conn: psycopg.Connection, event_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    """Whether the member erased their face data in the event and has not opted back in."""
    return conn.execute("select 1 from face_recognition_opt_outs where event_id = %s and user_id = %s",
                        (event_id, user_id)).fetchone() is not None
