"""SQL for detection results: an image's faces and its ``media_analyses`` row, written once.

Idempotency rule: ``media_analyses`` has one row per (media, model), inserted in the same
transaction as that image's faces. :func:`store_media_faces` inserts that row first with
``on conflict do nothing``; a concurrent transaction for the same (media, model) blocks on
the primary key until the first commits and then finds the conflict, so however often and
however concurrently a message is delivered, one set of faces is written. A worker killed
mid-way rolls back the row with the faces, leaving nothing half-written.

Also here: the media lookups around detection (state of a media row, the media row of a Cloud
Storage object, which of an event's image media a model has analysed) and forgetting analyses
so that a forced enqueue detects again.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import psycopg

from shared.db.face_tags import sync_face_tags
from shared.db.persons import refresh_persons


class FaceRecord(Protocol):
    """What a stored face needs (``shared.face_analysis.Face`` has these attributes)."""

    bbox: Sequence[float]
    landmarks: Sequence[Sequence[float]]
    det_score: float
    quality: float
    embedding: np.ndarray
    thumbnail: bytes | None


@dataclass(frozen=True)
class MediaState:
    """A media row as detection sees it: its event and whether that event wants faces."""

    media_id: uuid.UUID
    event_id: uuid.UUID
    storage_path: str
    face_recognition_enabled: bool


@dataclass(frozen=True)
class StoredFaces:
    """Outcome of :func:`store_media_faces`; ``created`` is False when the faces were already there."""

    created: bool
    face_ids: list[uuid.UUID]
    face_count: int
    width: int | None
    height: int | None


# Media the detector can read; anything else (videos) is neither enqueued nor waited for.
IMAGE_MEDIA = "(m.mime_type is null or m.mime_type like 'image/%%')"


_MEDIA_STATE = """
    select m.id as media_id, m.event_id, m.storage_path, e.face_recognition_enabled
      from media m join events e on e.id = m.event_id
"""


def media_state(conn: psycopg.Connection, media_id: uuid.UUID, *, lock: bool = False) -> MediaState | None:
    """The media row and its event's switch; None when the media is gone.

    ``lock=True`` holds a share lock on both rows until the transaction ends: turning face
    recognition off (an update of the event row) then waits for faces being stored to commit,
    so the purge that follows it removes them, and never runs before them.
    """
    row = conn.execute(_MEDIA_STATE + " where m.id = %s" + (" for share of m, e" if lock else ""),
                       (media_id,)).fetchone()
    return MediaState(**row) if row else None


def media_for_object(conn: psycopg.Connection, bucket: str, object_name: str) -> MediaState | None:
    """The media row of Cloud Storage object ``gs://bucket/object``.

    Its ``storage_path`` is either the full ``gs://`` location or the object name alone.
    """
    row = conn.execute(
        _MEDIA_STATE + " where m.storage_path = any(%s) order by m.created_at limit 1",
        ([f"gs://{bucket}/{object_name}", object_name],),
    ).fetchone()
    return MediaState(**row) if row else None


def event_media(conn: psycopg.Connection, event_id: uuid.UUID, model: str,
                media_ids: Collection[uuid.UUID] | None) -> list[dict[str, Any]]:
    """The event's image media (all, or those of ``media_ids``) with whether ``model`` analysed them."""
    return conn.execute(
        f"""
        select m.id, m.storage_path,
               exists (select 1 from media_analyses a where a.media_id = m.id and a.model = %(model)s) as analysed
          from media m
         where m.event_id = %(event)s and {IMAGE_MEDIA}
           and (%(ids)s::uuid[] is null or m.id = any(%(ids)s::uuid[]))
         order by m.created_at, m.id
        """,
        {"event": event_id, "model": model, "ids": list(media_ids) if media_ids is not None else None},
    ).fetchall()


def media_analysis(conn: psycopg.Connection, media_id: uuid.UUID, model: str) -> dict[str, Any] | None:
    """The ``media_analyses`` row of (media, model), if that image was analysed by that model."""
    return conn.execute("select * from media_analyses where media_id = %s and model = %s",
                        (media_id, model)).fetchone()


def store_media_faces(conn: psycopg.Connection, *, event_id: uuid.UUID, media_id: uuid.UUID, model: str,
                      width: int | None, height: int | None, faces: Sequence[FaceRecord]) -> StoredFaces:
    """Write the analysis of one image (its row and all its faces), unless it is already there.

    Call inside a transaction; see the module docstring for why this writes exactly once.
    """
    inserted = conn.execute(
        """
        insert into media_analyses (media_id, model, event_id, face_count, width, height)
        values (%s, %s, %s, %s, %s, %s)
        on conflict (media_id, model) do nothing
        returning media_id
        """,
        (media_id, model, event_id, len(faces), width, height),
    ).fetchone()
    if inserted is None:
        existing = media_analysis(conn, media_id, model)
        return StoredFaces(False, [], existing["face_count"], existing["width"], existing["height"])
    face_ids = [
        conn.execute(
            """
            insert into faces (event_id, media_id, model, bbox, landmarks, det_score, quality, embedding, thumbnail)
            values (%s, %s, %s, %s, %s, %s, %s, %s, %s)
            returning id
            """,
            (event_id, media_id, model, [float(v) for v in face.bbox],
             [float(v) for point in face.landmarks for v in point], float(face.det_score), float(face.quality),
             np.asarray(face.embedding, dtype=np.float32), face.thumbnail),
        ).fetchone()["id"]
        for face in faces
    ]
    return StoredFaces(True, face_ids, len(face_ids), width, height)


def forget_analyses(conn: psycopg.Connection, event_id: uuid.UUID, model: str,
                    media_ids: Collection[uuid.UUID]) -> int:
    """Drop these media's detected faces and analyses of ``model`` so detection runs again (``force``).

    User-placed faces (``origin = 'user'``, boxed by an organiser with ``add_face``) stay, with
    their person: they are a person's work that detection cannot redo (the detector missed them
    once), and the detection that follows stores no face over them
    (:mod:`shared.detection.detect_job` drops a detected face that overlaps one). The persons that
    lose faces are recounted and the media's face tags re-synced in the same transaction; the
    caller holds the event's face-data lock.
    """
    ids = list(media_ids)
    persons = [row["person_id"] for row in conn.execute(
        "delete from faces where event_id = %s and model = %s and media_id = any(%s) and origin = 'detected'"
        " returning person_id", (event_id, model, ids)) if row["person_id"] is not None]
    conn.execute("delete from media_analyses where model = %s and media_id = any(%s)", (model, ids))
    refresh_persons(conn, set(persons))
    sync_face_tags(conn, ids)
    return len(ids)
