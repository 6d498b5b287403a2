"""SQL behind the clustering trigger: everything it decides, read back from the database.

Nothing here depends on which callback arrived: the numbers are recounted from ``faces``,
``media``, ``media_analyses`` and ``ml_jobs`` each time, so a lost callback only delays a
decision until the next callback or sweep.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from shared.db.enqueue import IMAGE_MEDIA

# Namespace of the per-event clustering-decision lock (first key of the two-int form), "fccl".
_CLUSTER_LOCK_NAMESPACE = 0x6663636C


@dataclass(frozen=True)
class ClusterState:
    face_recognition_enabled: bool
    image_media: int                      # the event's image media
    settled_media: int                    # of those: analysed by the model, or failed for good
    faces: int                            # faces of the model
    assigned_faces: int                   # of those: in a person
    last_clustered_at: datetime | None    # start of the last completed clustering (None: never)
    new_unassigned_faces: int             # unassigned faces created after that start (all, if never)
    cluster_in_flight: bool               # a clustering or re-embedding of the event is in flight
    last_failure_age_seconds: float | None  # since the last failed clustering after the last completed one


def lock_cluster_decision(conn: psycopg.Connection, event_id: uuid.UUID) -> None:
    """Serialise clustering decisions of one event until the transaction ends.

    Many callbacks for one event arrive together; each must see the decision of the one
    before it (the clustering job it created), not decide on the same counts in parallel.
    """
    conn.execute("select pg_advisory_xact_lock(%s, hashtext(%s))", (_CLUSTER_LOCK_NAMESPACE, str(event_id)))


def cluster_state(conn: psycopg.Connection, event_id: uuid.UUID, model: str) -> ClusterState | None:
    row = conn.execute(
        f"""
        with last_done as (
            select max(coalesce(started_at, created_at)) as at, max(completed_at) as completed_at
              from ml_jobs
             where event_id = %(event)s and job_type = 'cluster' and status = 'completed'
               and (model = %(model)s or model is null)
        )
        select e.face_recognition_enabled,
               (select count(*) from media m where m.event_id = e.id and {IMAGE_MEDIA}) as image_media,
               (select count(*) from media m where m.event_id = e.id and {IMAGE_MEDIA}
                   and (exists (select 1 from media_analyses a where a.media_id = m.id and a.model = %(model)s)
                        or exists (select 1 from ml_jobs j where j.media_id = m.id and j.job_type = 'detect'
                                     and j.model = %(model)s and j.status = 'failed'))) as settled_media,
               (select count(*) from faces f where f.event_id = e.id and f.model = %(model)s) as faces,
               (select count(*) from faces f where f.event_id = e.id and f.model = %(model)s
                   and f.person_id is not null) as assigned_faces,
               (select at from last_done) as last_clustered_at,
               (select count(*) from faces f where f.event_id = e.id and f.model = %(model)s and f.person_id is null
                   and ((select at from last_done) is null or f.created_at > (select at from last_done)))
                   as new_unassigned_faces,
               exists (select 1 from ml_jobs j where j.event_id = e.id and j.job_type in ('cluster', 'reembed')
                         and j.status in ('pending', 'processing')) as cluster_in_flight,
               (select extract(epoch from now() - max(j.completed_at)) from ml_jobs j
                 where j.event_id = e.id and j.job_type = 'cluster' and j.status = 'failed'
                   and j.completed_at > coalesce((select completed_at from last_done), '-infinity'))
                   as last_failure_age_seconds
          from events e
         where e.id = %(event)s
        """,
        {"event": event_id, "model": model},
    ).fetchone()
    if row is None:
        return None
    age = row["last_failure_age_seconds"]
    return ClusterState(**{**row, "last_failure_age_seconds": float(age) if age is not None else None})


def events_with_pending_faces(conn: psycopg.Connection, limit: int) -> list[uuid.UUID]:
    """Events with face recognition on and unassigned faces: the ones a sweep re-evaluates.

    Of any model: each event is evaluated with its own (``shared.db.event_models``).
    """
    return [row["event_id"] for row in conn.execute(
        """
        select f.event_id from faces f join events e on e.id = f.event_id
         where e.face_recognition_enabled and f.person_id is null
         group by f.event_id order by min(f.created_at) limit %s
        """,
        (limit,))]


def stale_cluster_jobs(conn: psycopg.Connection, older_than_seconds: int) -> list[dict[str, Any]]:
    """Clustering jobs nobody is running: never started, or their runner died (lease expired).

    They are touched (``updated_at``) as they are returned, so one sweep restarts each at most
    once per ``older_than_seconds``.
    """
    return conn.execute(
        """
        update ml_jobs j set updated_at = now()
          from events e
         where e.id = j.event_id and e.face_recognition_enabled and j.job_type = 'cluster'
           and j.updated_at < now() - make_interval(secs => %(age)s)
           and (j.status = 'pending' or (j.status = 'processing' and j.lease_expires_at < now()))
        returning j.id, j.event_id
        """,
        {"age": older_than_seconds},
    ).fetchall()


def stale_detect_jobs(conn: psycopg.Connection, older_than_seconds: int, limit: int) -> list[dict[str, Any]]:
    """Detect jobs never claimed long after creation (their message was probably lost); touched as returned."""
    return conn.execute(
        """
        update ml_jobs j set updated_at = now()
          from media m
         where m.id = j.media_id and j.id in (
                 select id from ml_jobs
                  where job_type = 'detect' and status = 'pending' and attempts = 0
                    and updated_at < now() - make_interval(secs => %(age)s)
                  order by updated_at limit %(limit)s for update skip locked)
        returning j.id, j.event_id, j.media_id, j.model, m.storage_path
        """,
        {"age": older_than_seconds, "limit": limit},
    ).fetchall()
