"""SQL of the media rows the database recorded as awaiting detection (``media_awaiting_detection``).

The trigger of migration ``20261130001000`` records each image media inserted into an event with
face recognition on; the backend reads the records, creates and publishes the detect jobs, and
only then forgets them (:mod:`shared.pipeline.media_inserts`).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection

import psycopg

from shared.db.faces import IMAGE_MEDIA

# The channel the trigger notifies on, with the event's id as payload (the local stack listens).
NOTIFY_CHANNEL = "facecluster_media_inserted"


def awaiting_media(conn: psycopg.Connection, event_id: uuid.UUID) -> list[uuid.UUID]:
    """The event's media awaiting detection, oldest first.

    Records whose media is no longer image media of the event (moved, or its type changed since the
    insert) are dropped here: they await nothing, and enqueueing them would be refused.
    """
    conn.execute(
        f"""
        delete from media_awaiting_detection w
         where w.event_id = %s
           and not exists (select 1 from media m where m.id = w.media_id and m.event_id = w.event_id
                                                   and {IMAGE_MEDIA})
        """, (event_id,))
    return [row["media_id"] for row in conn.execute(
        "select media_id from media_awaiting_detection where event_id = %s order by created_at, media_id",
        (event_id,))]


def forget_awaiting_media(conn: psycopg.Connection, media_ids: Collection[uuid.UUID]) -> None:
    """Drop the records once their detection has started (or is not wanted)."""
    conn.execute("delete from media_awaiting_detection where media_id = any(%s)", (list(media_ids),))


def events_with_awaiting_media(conn: psycopg.Connection, older_than_seconds: int, limit: int) -> list[uuid.UUID]:
    """Events with records older than ``older_than_seconds``: their notification was probably lost."""
    return [row["event_id"] for row in conn.execute(
        """
        select event_id from media_awaiting_detection
         where created_at < now() - make_interval(secs => %s)
         group by event_id order by min(created_at) limit %s
        """, (older_than_seconds, limit))]


def listen_for_media_inserts(conn: psycopg.Connection) -> None:
    """Subscribe an autocommit connection to the trigger's notifications (read with ``conn.notifies``)."""
    conn.execute(f"listen {NOTIFY_CHANNEL}")
