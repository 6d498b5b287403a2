"""SQL for detection results: an image's faces and its ``media_analyses`` row, written once.

Idempotency rule: ``media_analyses`` has one row per (media, model), inserted in the same
transaction as that image's faces. :func:`store_media_faces` inserts that row first with
``on conflict do nothing``; a concurrent transaction for the same (media, model) blocks on
the primary key until the first commits and then finds the conflict, so however often and
however concurrently a message is delivered, one set of faces is written. A worker killed
mid-way rolls back the row with the faces, leaving nothing half-written.

Also here: the media/event lookups the detection service needs (state of a media row, the
media row of a Cloud Storage object) and creating the detect job for an upload.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import psycopg


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


def ensure_detect_job(conn: psycopg.Connection, *, event_id: uuid.UUID, media_id: uuid.UUID, model: str,
                      max_attempts: int) -> uuid.UUID:
    """The id of the in-flight detect job of (media, model), created ``pending`` if there is none.

    The unique index ``uq_ml_jobs_detect_in_flight`` keeps one job in flight per (media, model),
    so an upload notification and an enqueue from the app never make two.
    """
    for _ in range(3):  # the in-flight job may finish between the insert and the select
        row = conn.execute(
            """
            insert into ml_jobs (job_type, event_id, media_id, model, max_attempts)
            values ('detect', %s, %s, %s, %s)
            on conflict (media_id, model) where job_type = 'detect' and status in ('pending', 'processing')
            do nothing
            returning id
            """,
            (event_id, media_id, model, max_attempts),
        ).fetchone() or conn.execute(
            """
            select id from ml_jobs
             where job_type = 'detect' and media_id = %s and model = %s and status in ('pending', 'processing')
            """,
            (media_id, model),
        ).fetchone()
        if row is not None:
            return row["id"]
    raise RuntimeError(f"could not create or find the detect job of media {media_id}")
