"""SQL of ml-enqueue: which media need detection, and creating jobs without duplicates.

Duplicates are impossible by construction: ``uq_ml_jobs_detect_in_flight`` (one pending or
processing detect job per media and model) and ``uq_ml_jobs_cluster_in_flight`` (one
clustering per event) make a repeated or concurrent enqueue insert nothing (``on conflict do
nothing``), and the caller publishes or starts only what its own insert returned.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from typing import Any

import psycopg

from shared.db.face_tags import sync_face_tags
from shared.db.persons import refresh_persons

# Media the detector can read; anything else (videos) is neither enqueued nor waited for.
IMAGE_MEDIA = "(m.mime_type is null or m.mime_type like 'image/%%')"


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


def forget_analyses(conn: psycopg.Connection, event_id: uuid.UUID, model: str,
                    media_ids: Collection[uuid.UUID]) -> int:
    """Drop these media's detected faces and analyses of ``model`` so detection runs again (``force``).

    User-placed faces (``origin = 'user'``, boxed by an organiser with ``add_face``) stay, with
    their person: they are a person's work that detection cannot redo (the detector missed them
    once), and the detection that follows stores no face over them
    (:mod:`shared.detection.service` drops a detected face that overlaps one). The persons that
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


def create_detect_jobs(conn: psycopg.Connection, event_id: uuid.UUID, model: str, media_ids: Collection[uuid.UUID],
                       priority: int, max_attempts: int) -> list[dict[str, Any]]:
    """Insert a pending detect job per media unless one is in flight; return the new ones in media order, as
    the rows :func:`shared.pipeline.detect_requests.detect_messages` publishes (id, event_id, media_id, model,
    storage_path)."""
    return conn.execute(
        """
        with created as (
            insert into ml_jobs (job_type, event_id, media_id, model, priority, max_attempts)
            select 'detect', %(event)s, media_id, %(model)s, %(priority)s, %(max_attempts)s
              from unnest(%(ids)s::uuid[]) as media_id
            on conflict do nothing
            returning id, event_id, media_id, model
        )
        select c.id, c.event_id, c.media_id, c.model, m.storage_path
          from created c join media m on m.id = c.media_id
         order by m.created_at, m.id
        """,
        {"event": event_id, "model": model, "ids": list(media_ids), "priority": priority,
         "max_attempts": max_attempts},
    ).fetchall()


def fail_unpublished_jobs(conn: psycopg.Connection, errors: dict[uuid.UUID, str]) -> None:
    """Fail jobs whose message never left, so they stop blocking a new enqueue of their media.

    One statement for all of them: when publishing fails it usually fails for every message.
    """
    conn.execute(
        """
        update ml_jobs j set status = 'failed', error = e.error, completed_at = now(), updated_at = now()
          from unnest(%s::uuid[], %s::text[]) as e(id, error)
         where j.id = e.id and j.status = 'pending' and j.attempts = 0
        """,
        (list(errors), [f"not published: {error}"[:1000] for error in errors.values()]))


def create_cluster_job(conn: psycopg.Connection, event_id: uuid.UUID, model: str, priority: int,
                       max_attempts: int) -> uuid.UUID | None:
    """The new clustering job of the event, or None when one is already in flight."""
    row = conn.execute(
        "insert into ml_jobs (job_type, event_id, model, priority, max_attempts)"
        " values ('cluster', %s, %s, %s, %s) on conflict do nothing returning id",
        (event_id, model, priority, max_attempts)).fetchone()
    return row["id"] if row else None


def cluster_job_in_flight(conn: psycopg.Connection, event_id: uuid.UUID) -> uuid.UUID | None:
    row = conn.execute("select id from ml_jobs where event_id = %s and job_type = 'cluster'"
                       " and status in ('pending', 'processing')", (event_id,)).fetchone()
    return row["id"] if row else None
