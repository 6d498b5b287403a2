"""SQL about events as face recognition sees them: who may do what, the feature flag, the locks.

Lock order for writers of an event's face data (taking them in this order cannot deadlock):
the ``events`` row (detection holds it ``for share`` while storing faces; turning face
recognition off holds it ``for no key update``), then :func:`lock_event_face_data`, then
persons ``for update`` by id, then faces and tags.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import psycopg

# Namespace of the per-event advisory lock (first key of the two-int form), "fcev".
_EVENT_LOCK_NAMESPACE = 0x66636576


@dataclass(frozen=True)
class EventAccess:
    event_id: uuid.UUID
    role: str | None                  # 'organiser' (the owner included), 'member' or None
    face_recognition_enabled: bool


def event_access(conn: psycopg.Connection, event_id: uuid.UUID, user_id: uuid.UUID) -> EventAccess | None:
    """The user's role in the event (None when the event does not exist)."""
    row = conn.execute(
        """
        select e.id, e.face_recognition_enabled,
               case when e.owner_id = %(user)s or m.role = 'organiser' then 'organiser'
                    when m.role is not null then 'member' end as role
          from events e
          left join event_members m on m.event_id = e.id and m.user_id = %(user)s
         where e.id = %(event)s
        """,
        {"event": event_id, "user": user_id},
    ).fetchone()
    if row is None:
        return None
    return EventAccess(row["id"], row["role"], row["face_recognition_enabled"])


def is_event_member(conn: psycopg.Connection, event_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    access = event_access(conn, event_id, user_id)
    return access is not None and access.role is not None


def lock_event_face_data(conn: psycopg.Connection, event_id: uuid.UUID) -> None:
    """Serialise writers of an event's persons, faces and face tags until the transaction ends.

    Row locks on persons alone cannot order two actions that touch different persons sharing
    media (their tag syncs would interleave); one transaction-scoped lock per event does, and
    writes to one event are rare enough for that to cost nothing.
    """
    conn.execute("select pg_advisory_xact_lock(%s, hashtext(%s))", (_EVENT_LOCK_NAMESPACE, str(event_id)))


def face_recognition_state(conn: psycopg.Connection, event_id: uuid.UUID) -> bool | None:
    """Whether the event wants faces; None when there is no such event."""
    row = conn.execute("select face_recognition_enabled from events where id = %s", (event_id,)).fetchone()
    return None if row is None else bool(row["face_recognition_enabled"])


def lock_event_row(conn: psycopg.Connection, event_id: uuid.UUID) -> bool:
    """Lock the event row for a change of its flag (waits for faces being stored); return the flag."""
    row = conn.execute("select face_recognition_enabled from events where id = %s for no key update",
                       (event_id,)).fetchone()
    return bool(row["face_recognition_enabled"])


def set_face_recognition_enabled(conn: psycopg.Connection, event_id: uuid.UUID, enabled: bool) -> None:
    conn.execute("update events set face_recognition_enabled = %s where id = %s", (enabled, event_id))
