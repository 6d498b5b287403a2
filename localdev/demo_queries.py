"""SQL of the local demo: its event and media, and the counts its progress bar and summary show.

Development-only like the rest of :mod:`localdev`, so it lives here rather than in ``shared/db``:
the production image carries no query only the demo runs.

The demo reads progress from the database rather than from the services' answers because the
database is the source of truth: a push retried by Pub/Sub or a callback lost on the way still
ends as one row in ``ml_jobs``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import psycopg


@dataclass(frozen=True)
class DemoEvent:
    id: uuid.UUID
    owner_id: uuid.UUID


@dataclass(frozen=True)
class DetectProgress:
    total: int        # media this run has to analyse
    completed: int    # of those, analysed
    failed: int       # of those, whose detect job failed for good
    faces: int        # faces found in them

    @property
    def finished(self) -> int:
        return self.completed + self.failed


@dataclass(frozen=True)
class ClusteringProgress:
    """How far the event's clustering has come, as the demo waits for it (the trigger's own view of
    an event is its ``ClusterState``: whether to start one, not whether one is done)."""

    last_detection_at: datetime | None     # when the newest detect job of the event finished
    active_job_id: uuid.UUID | None        # a cluster job pending or processing
    active_stale: bool                     # ... but pending for long, or its worker's lease ran out
    last_completed_at: datetime | None     # when the newest cluster job completed
    last_failed_error: str | None          # the error of the newest cluster job, if it failed


@dataclass(frozen=True)
class EventSummary:
    images: int
    faces: int
    persons: int
    unassigned: int


def find_event_by_name(conn: psycopg.Connection, name: str) -> DemoEvent | None:
    row = conn.execute("select id, owner_id from events where name = %s order by created_at limit 1",
                       (name,)).fetchone()
    return DemoEvent(row["id"], row["owner_id"]) if row else None


def create_event(conn: psycopg.Connection, name: str, owner_id: uuid.UUID) -> DemoEvent:
    """An event with face recognition on, owned by ``owner_id``, who is also its organiser member."""
    row = conn.execute("insert into events (owner_id, name, face_recognition_enabled) values (%s, %s, true)"
                       " returning id", (owner_id, name)).fetchone()
    conn.execute("insert into event_members (event_id, user_id, role) values (%s, %s, 'organiser')",
                 (row["id"], owner_id))
    return DemoEvent(row["id"], owner_id)


def media_storage_paths(conn: psycopg.Connection, event_id: uuid.UUID) -> set[str]:
    rows = conn.execute("select storage_path from media where event_id = %s", (event_id,)).fetchall()
    return {row["storage_path"] for row in rows}


def insert_media(conn: psycopg.Connection, event_id: uuid.UUID, uploaded_by: uuid.UUID,
                 items: Iterable[tuple[str, str]]) -> list[uuid.UUID]:
    """Insert ``(storage_path, mime_type)`` rows; return their ids in order."""
    return [conn.execute("insert into media (event_id, uploaded_by, storage_path, mime_type)"
                         " values (%s, %s, %s, %s) returning id",
                         (event_id, uploaded_by, path, mime)).fetchone()["id"]
            for path, mime in items]


def database_now(conn: psycopg.Connection) -> datetime:
    """The server's clock: the run's start is compared with timestamps the server wrote."""
    return conn.execute("select clock_timestamp() as now").fetchone()["now"]


def unanalysed_media_ids(conn: psycopg.Connection, event_id: uuid.UUID, model: str) -> list[uuid.UUID]:
    """Media of the event that ``model`` has not analysed yet: what this run has to process."""
    rows = conn.execute(
        "select m.id from media m where m.event_id = %s and not exists"
        " (select 1 from media_analyses a where a.media_id = m.id and a.model = %s) order by m.created_at, m.id",
        (event_id, model)).fetchall()
    return [row["id"] for row in rows]


def detect_progress(conn: psycopg.Connection, media_ids: list[uuid.UUID], model: str,
                    since: datetime) -> DetectProgress:
    """How far detection of ``media_ids`` is: analysed, failed since ``since``, and their faces.

    Counted per media rather than per job, so a job row reused from an interrupted run counts too.
    """
    row = conn.execute(
        """
        select count(*) filter (where a.media_id is not null) as completed,
               count(*) filter (where a.media_id is null and exists (
                   select 1 from ml_jobs j where j.media_id = m.id and j.job_type = 'detect'
                      and j.status = 'failed' and j.updated_at >= %(since)s)) as failed,
               (select count(*) from faces f where f.media_id = any(%(ids)s) and f.model = %(model)s) as faces
          from media m
          left join media_analyses a on a.media_id = m.id and a.model = %(model)s
         where m.id = any(%(ids)s)
        """,
        {"ids": media_ids, "model": model, "since": since},
    ).fetchone()
    return DetectProgress(len(media_ids), row["completed"], row["failed"], row["faces"])


def failed_media(conn: psycopg.Connection, media_ids: list[uuid.UUID], model: str,
                 since: datetime) -> list[tuple[str, str]]:
    """``(storage_path, error)`` of the media among ``media_ids`` whose detection failed since ``since``."""
    rows = conn.execute(
        """
        select distinct on (m.id) m.storage_path, j.error
          from media m join ml_jobs j on j.media_id = m.id and j.job_type = 'detect'
         where m.id = any(%(ids)s) and j.status = 'failed' and j.updated_at >= %(since)s
           and not exists (select 1 from media_analyses a where a.media_id = m.id and a.model = %(model)s)
         order by m.id, j.updated_at desc
        """,
        {"ids": media_ids, "model": model, "since": since},
    ).fetchall()
    return sorted((row["storage_path"], row["error"] or "failed") for row in rows)


def clustering_progress(conn: psycopg.Connection, event_id: uuid.UUID,
                        stale_after_seconds: float) -> ClusteringProgress:
    row = conn.execute(
        """
        select (select max(completed_at) from ml_jobs
                 where event_id = %(event)s and job_type = 'detect' and status = 'completed') as last_detection_at,
               active.id as active_job_id,
               coalesce(active.status = 'pending' and active.created_at < now() - make_interval(secs => %(stale)s)
                        or active.status = 'processing' and active.lease_expires_at < now(), false) as active_stale,
               (select max(completed_at) from ml_jobs
                 where event_id = %(event)s and job_type = 'cluster' and status = 'completed') as last_completed_at,
               (select error from ml_jobs where event_id = %(event)s and job_type = 'cluster'
                 order by created_at desc limit 1) as last_error
          from (select 1) one
          left join lateral (select id, status, created_at, lease_expires_at from ml_jobs
                              where event_id = %(event)s and job_type = 'cluster'
                                and status in ('pending', 'processing')
                              order by created_at desc limit 1) active on true
        """,
        {"event": event_id, "stale": stale_after_seconds},
    ).fetchone()
    return ClusteringProgress(row["last_detection_at"], row["active_job_id"], row["active_stale"],
                              row["last_completed_at"], row["last_error"])


def event_summary(conn: psycopg.Connection, event_id: uuid.UUID, model: str) -> EventSummary:
    row = conn.execute(
        """
        select (select count(*) from media where event_id = %(event)s) as images,
               (select count(*) from faces where event_id = %(event)s and model = %(model)s) as faces,
               (select count(*) from face_persons where event_id = %(event)s and model = %(model)s
                   and status = 'active') as persons,
               (select count(*) from faces where event_id = %(event)s and model = %(model)s
                   and person_id is null) as unassigned
        """,
        {"event": event_id, "model": model},
    ).fetchone()
    return EventSummary(row["images"], row["faces"], row["persons"], row["unassigned"])
