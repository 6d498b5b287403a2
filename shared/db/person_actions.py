"""SQL of the reviewer's actions on persons: link, merge, rename, ignore, remove a face.

Each function runs inside the caller's transaction, which must hold
:func:`shared.db.events.lock_event_face_data` for the event. The persons involved are locked
``for update`` in id order (two merges in opposite directions wait for each other instead of
deadlocking), and every function ends by recounting the persons it touched and syncing the
face tags of the media it touched, so ``face_count`` always equals the faces pointing at a
person and face tags always follow the links (``shared.db.face_tags``).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import psycopg

from shared.db.face_tags import media_of_persons, sync_face_tags
from shared.db.faces import FaceRecord
from shared.db.gdpr import opted_out
from shared.db.not_me import inherit_not_me
from shared.db.persons import refresh_persons
from shared.db.suggestions import inherit_distinctions, record_distinction


class PersonActionError(Exception):
    """The action cannot be done; ``kind`` is 'not_found', 'conflict' or 'invalid'."""

    def __init__(self, kind: str, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.code = code
        self.message = message
        self.field = field


def lock_persons(conn: psycopg.Connection, event_id: uuid.UUID,
                 person_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
    """Lock the persons of the event in id order; a missing one is a 'not_found' error."""
    rows = conn.execute("select * from face_persons where event_id = %s and id = any(%s) order by id for update",
                        (event_id, sorted(person_ids))).fetchall()
    found = {row["id"]: row for row in rows}
    for person_id in person_ids:
        if person_id not in found:
            raise PersonActionError("not_found", "person_not_found", f"no person {person_id} in this event",
                                    "person_id")
    return found


# The database refuses a link to a user who may not be recognised in the event (migration
# 20261129003300). The API checks first; this catches the races (the user left or opted out
# meanwhile) and a merge handing the secondary's stale link to the target.
_LINK_RULE = "face_persons_link_recognisable"


@contextmanager
def _link_rule() -> Iterator[None]:
    try:
        yield
    except psycopg.errors.CheckViolation as exc:
        if exc.diag.constraint_name != _LINK_RULE:
            raise
        raise PersonActionError("conflict", "user_not_linkable", "the user is not a member of this event or "
                                "has erased their face data in it", "user_id") from None


def _require_not_merged(person: dict[str, Any], field: str = "person_id") -> None:
    if person["status"] == "merged":
        raise PersonActionError("conflict", "person_merged",
                                f"person {person['id']} was merged into {person['merged_into']}", field)


def _finish(conn: psycopg.Connection, person_ids: Collection[uuid.UUID],
            extra_media: Collection[uuid.UUID] = ()) -> dict[str, Any]:
    refresh_persons(conn, person_ids)
    media = set(media_of_persons(conn, person_ids)) | set(extra_media)
    return sync_face_tags(conn, media)


def assign(conn: psycopg.Connection, event_id: uuid.UUID, person_id: uuid.UUID, user_id: uuid.UUID) -> dict[str, Any]:
    """Link the person to a member; their media get face tags (idempotent)."""
    person = lock_persons(conn, event_id, [person_id])[person_id]
    _require_not_merged(person)
    if person["status"] != "active":
        raise PersonActionError("conflict", "person_ignored", "an ignored person cannot be linked; unignore it first")
    if opted_out(conn, event_id, user_id):
        raise PersonActionError("conflict", "user_opted_out", "this member erased their face data in this event "
                                "and cannot be linked until they opt back in", "user_id")
    with _link_rule():
        conn.execute("update face_persons set linked_user_id = %s, updated_at = now() where id = %s",
                     (user_id, person_id))
    return _finish(conn, [person_id])


def unassign(conn: psycopg.Connection, event_id: uuid.UUID, person_id: uuid.UUID) -> dict[str, Any]:
    """Remove the link; the face tags it supported go, manual tags stay."""
    lock_persons(conn, event_id, [person_id])
    conn.execute("update face_persons set linked_user_id = null, updated_at = now() where id = %s", (person_id,))
    return _finish(conn, [person_id])


def merge(conn: psycopg.Connection, event_id: uuid.UUID, person_id: uuid.UUID, into_person_id: uuid.UUID,
          *, force: bool) -> dict[str, Any]:
    """Move every face of ``person_id`` into ``into_person_id`` and mark the former merged.

    Links: the target keeps its own; an unlinked target takes the secondary's. Two different
    links are a conflict unless ``force`` (then the target's link wins and the secondary's
    user loses the tags that only this person supported). "Not the same person" answers and
    members' "not me" follow the faces into the target.
    """
    if person_id == into_person_id:
        raise PersonActionError("invalid", "invalid_request", "cannot merge a person into itself", "into_person_id")
    persons = lock_persons(conn, event_id, [person_id, into_person_id])
    source, target = persons[person_id], persons[into_person_id]
    _require_not_merged(source)
    _require_not_merged(target, "into_person_id")
    if source["model"] != target["model"]:
        raise PersonActionError("invalid", "invalid_request", "the persons come from different models",
                                "into_person_id")
    links = {source["linked_user_id"], target["linked_user_id"]} - {None}
    if len(links) > 1 and not force:
        raise PersonActionError("conflict", "link_conflict",
                                "the persons are linked to different users; send force=true to merge anyway")
    conn.execute(
        "update faces set person_id = %s, updated_at = now() where person_id = %s",
        (into_person_id, person_id))
    with _link_rule():
        conn.execute(
            """
            update face_persons
               set linked_user_id = coalesce(linked_user_id, %(link)s),
                   display_name = coalesce(display_name, %(name)s), updated_at = now()
             where id = %(target)s
            """,
            {"target": into_person_id, "link": source["linked_user_id"], "name": source["display_name"]})
    # Earlier merges into the secondary now point at the target: chains stay one step long.
    conn.execute("update face_persons set merged_into = %s, updated_at = now() where merged_into = %s",
                 (into_person_id, person_id))
    conn.execute(
        "update face_persons set status = 'merged', merged_into = %s, linked_user_id = null,"
        " representative_face_id = null, updated_at = now() where id = %s",
        (into_person_id, person_id))
    inherit_distinctions(conn, event_id, person_id, into_person_id)
    inherit_not_me(conn, person_id, into_person_id)
    return _finish(conn, [person_id, into_person_id])


def mark_different(conn: psycopg.Connection, event_id: uuid.UUID, person_id: uuid.UUID, other_person_id: uuid.UUID,
                   user_id: uuid.UUID) -> bool:
    """Remember "not the same person" for the pair (idempotent); True when it was new."""
    if person_id == other_person_id:
        raise PersonActionError("invalid", "invalid_request", "a person is the same as itself", "other_person_id")
    persons = lock_persons(conn, event_id, [person_id, other_person_id])
    _require_not_merged(persons[person_id])
    _require_not_merged(persons[other_person_id], "other_person_id")
    model = persons[person_id]["model"]
    if persons[other_person_id]["model"] != model:
        raise PersonActionError("invalid", "invalid_request", "the persons come from different models",
                                "other_person_id")
    return record_distinction(conn, event_id, model, person_id, other_person_id, user_id)


def larger_first(conn: psycopg.Connection, event_id: uuid.UUID, person_id: uuid.UUID,
                 other_person_id: uuid.UUID) -> tuple[uuid.UUID, uuid.UUID]:
    """The pair as (kept, merged): accepting a suggestion keeps the person with more faces (then the lower id)."""
    persons = lock_persons(conn, event_id, [person_id, other_person_id])
    kept = min(persons.values(), key=lambda p: (-p["face_count"], p["id"]))["id"]
    return kept, other_person_id if kept == person_id else person_id


def rename(conn: psycopg.Connection, event_id: uuid.UUID, person_id: uuid.UUID, display_name: str | None) -> None:
    person = lock_persons(conn, event_id, [person_id])[person_id]
    _require_not_merged(person)
    conn.execute("update face_persons set display_name = %s, updated_at = now() where id = %s",
                 (display_name, person_id))


def set_ignored(conn: psycopg.Connection, event_id: uuid.UUID, person_id: uuid.UUID, ignored: bool) -> dict[str, Any]:
    """Ignore (a stranger, a poster face) or bring back a person; ignored persons support no tags."""
    person = lock_persons(conn, event_id, [person_id])[person_id]
    _require_not_merged(person)
    conn.execute("update face_persons set status = %s, updated_at = now() where id = %s",
                 ("ignored" if ignored else "active", person_id))
    return _finish(conn, [person_id])


def remove_face(conn: psycopg.Connection, event_id: uuid.UUID, person_id: uuid.UUID,
                face_id: uuid.UUID) -> dict[str, Any]:
    """Take a wrongly clustered face out of the person; it is never put back into that person."""
    person = lock_persons(conn, event_id, [person_id])[person_id]
    _require_not_merged(person)
    face = conn.execute(
        """
        update faces
           set person_id = null, assignment = null, updated_at = now(),
               rejected_person_ids = case when %(person)s = any(rejected_person_ids) then rejected_person_ids
                                          else array_append(rejected_person_ids, %(person)s) end
         where id = %(face)s and person_id = %(person)s
        returning media_id
        """,
        {"face": face_id, "person": person_id}).fetchone()
    if face is None:
        raise PersonActionError("not_found", "face_not_found", f"face {face_id} is not in person {person_id}",
                                "face_id")
    return _finish(conn, [person_id], [face["media_id"]])


def photo_faces(conn: psycopg.Connection, media_id: uuid.UUID, model: str) -> list[dict[str, Any]]:
    """The faces of one photo and model, with where they came from."""
    return conn.execute("select id, bbox, origin, person_id from faces where media_id = %s and model = %s order by id",
                        (media_id, model)).fetchall()


def place_face(conn: psycopg.Connection, event_id: uuid.UUID, media_id: uuid.UUID, model: str, face: FaceRecord,
               person_id: uuid.UUID | None) -> dict[str, Any]:
    """Store a face an organiser boxed (``origin = 'user'``, pinned by ``assignment = 'user'``) in ``person_id``.

    The person must be active, of the model, and not on the photo yet (cannot-link). The
    photo's other faces are not touched.
    """
    if person_id is not None:
        person = lock_persons(conn, event_id, [person_id])[person_id]
        if person["status"] != "active" or person["model"] != model:
            raise PersonActionError("conflict", "person_not_active", "the person is merged, ignored or of "
                                    "another model", "person_id")
        if conn.execute("select 1 from faces where person_id = %s and media_id = %s",
                        (person_id, media_id)).fetchone():
            raise PersonActionError("conflict", "person_on_photo", "the person already has a face on this photo "
                                    "(one photo never shows a person twice)", "person_id")
    face_id = conn.execute(
        """
        insert into faces (event_id, media_id, model, bbox, landmarks, det_score, quality, embedding, thumbnail,
                           person_id, assignment, origin)
        values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'user')
        returning id
        """,
        (event_id, media_id, model, [float(v) for v in face.bbox],
         [float(v) for point in face.landmarks for v in point], float(face.det_score), float(face.quality),
         np.asarray(face.embedding, dtype=np.float32), face.thumbnail, person_id,
         "user" if person_id else None)).fetchone()["id"]
    tags = _finish(conn, [person_id] if person_id else [], [media_id])
    return {"face_id": face_id, "person_id": person_id, "created": True, **tags}
