"""SQL of members' "not me" (``face_person_not_me``): recorded, forgotten, read, and carried by merges.

Apart from :mod:`shared.db.selfie` because merges (:mod:`shared.db.person_actions`) carry it, and
that module sits below clustering's store, which selfie search's SQL builds on.
"""

from __future__ import annotations

import uuid

import psycopg


def not_me_persons(conn: psycopg.Connection, event_id: uuid.UUID, user_id: uuid.UUID) -> set[uuid.UUID]:
    return {r["person_id"] for r in conn.execute(
        "select person_id from face_person_not_me where event_id = %s and user_id = %s",
        (event_id, user_id)).fetchall()}


def record_not_me(conn: psycopg.Connection, event_id: uuid.UUID, person_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    """Record the member's "not me" (idempotent); whether it is new."""
    return conn.execute("insert into face_person_not_me (event_id, person_id, user_id) values (%s, %s, %s)"
                        " on conflict do nothing", (event_id, person_id, user_id)).rowcount > 0


def inherit_not_me(conn: psycopg.Connection, merged: uuid.UUID, into: uuid.UUID) -> None:
    """Whoever said "not me" to a merged person says it to the person it went into.

    The merged person's faces are now ``into``'s: offering ``into`` would offer faces the member
    rejected (precision first). The member can still take it back with "this is me".
    """
    conn.execute(
        "insert into face_person_not_me (event_id, person_id, user_id, created_at)"
        " select event_id, %(into)s, user_id, created_at from face_person_not_me where person_id = %(merged)s"
        " on conflict do nothing",
        {"merged": merged, "into": into})


def forget_not_me(conn: psycopg.Connection, person_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """The member changed their mind and says "this is me"."""
    conn.execute("delete from face_person_not_me where person_id = %s and user_id = %s", (person_id, user_id))
