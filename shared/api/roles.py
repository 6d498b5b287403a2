"""Authorisation from event roles: organisers (and the owner) change, members read."""

from __future__ import annotations

import uuid

import psycopg

from shared.api.http import ApiError
from shared.db.events import EventAccess, event_access

_RANK = {None: 0, "member": 1, "organiser": 2}


def require_event_role(conn: psycopg.Connection, event_id: uuid.UUID, user_id: uuid.UUID,
                       needed: str) -> EventAccess:
    """The caller's access to the event, or 404 (no such event) / 403 (role too low)."""
    access = event_access(conn, event_id, user_id)
    if access is None:
        raise ApiError(404, "event_not_found", f"no event {event_id}", field="event_id")
    if _RANK[access.role] < _RANK[needed]:
        what = "an organiser" if needed == "organiser" else "a member"
        raise ApiError(403, "forbidden", f"only {what} of the event may do this")
    return access


def require_face_recognition(access: EventAccess) -> None:
    """403 naming the setting when the event has not turned face recognition on."""
    if not access.face_recognition_enabled:
        raise ApiError(403, "face_recognition_disabled",
                       "face recognition is off for this event: an organiser must enable "
                       "`face_recognition_enabled` (action set_face_recognition, with consent) first")
