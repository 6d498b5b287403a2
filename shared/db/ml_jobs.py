"""All SQL on ``ml_jobs``: creating jobs, the lease, finishing, and what the pipeline reads back.

One row per unit of work: ``detect`` (one media, one model), ``cluster`` (one event) or
``reembed`` (one event moving to another model pack). A row is the truth about its work; every
signal around it (a Pub/Sub message, a callback, a Cloud Run execution) may be lost or repeated.

Lifecycle: ``pending`` → ``processing`` → ``completed`` | ``failed``, only by conditional updates:

* **In flight is unique.** ``uq_ml_jobs_detect_in_flight`` allows one pending or processing
  detect job per (media, model), ``uq_ml_jobs_cluster_in_flight`` one clustering per event, and
  ``uq_ml_jobs_event_rewrite_in_flight`` one clustering *or* re-embedding per event. The
  ``create_*`` functions insert with ``on conflict do nothing``: a repeated or concurrent request
  inserts nothing, and the caller publishes or starts only what its own insert returned.
* **The lease.** :func:`claim_job` takes a job that is ``pending``, or ``processing`` with an
  expired lease (its worker died), counts an attempt and sets a new lease; a second delivery of
  the same job finds it leased by someone else (``busy``: retry later) or finished (``done``:
  acknowledge). :func:`complete_job` / :func:`fail_job` / :func:`release_job` act only while the
  caller still holds the lease (``locked_by``), so a worker that lost its lease cannot
  overwrite a newer outcome.
* **Attempts.** Each claim counts one; at ``max_attempts`` the job fails for good instead of
  going back to ``pending``, so the dead-lettered message and the row tell the same story.
* **Recovery.** The clustering decision (:func:`cluster_state`) is recounted from the database
  on every callback, and the sweep finds jobs nobody runs (:func:`stale_cluster_jobs`,
  :func:`stale_detect_jobs`): a lost signal only delays work.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from shared.db.faces import IMAGE_MEDIA

PRIORITIES: dict[str, int] = {"low": 0, "normal": 1, "high": 2}

# Namespace of the per-event clustering-decision lock (first key of the two-int form), "fccl".
_CLUSTER_LOCK_NAMESPACE = 0x6663636C


# Creating jobs -------------------------------------------------------------------------------


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


def create_reembed_job(conn: psycopg.Connection, event_id: uuid.UUID, model: str,
                       max_attempts: int) -> uuid.UUID | None:
    """The new re-embedding job of the event, or None when a clustering or re-embedding is in flight."""
    row = conn.execute(
        "insert into ml_jobs (job_type, event_id, model, max_attempts) values ('reembed', %s, %s, %s)"
        " on conflict do nothing returning id",
        (event_id, model, max_attempts)).fetchone()
    return row["id"] if row else None


# The lease: claiming and finishing -----------------------------------------------------------


class ClaimOutcome(enum.Enum):
    CLAIMED = "claimed"        # the caller now holds the lease and must do the work
    DONE = "done"              # already completed or failed: nothing to do, acknowledge
    BUSY = "busy"              # another worker holds a live lease: retry later
    EXHAUSTED = "exhausted"    # attempts used up: the job has just been marked failed
    MISSING = "missing"        # no such job


@dataclass(frozen=True)
class Claim:
    outcome: ClaimOutcome
    job: dict[str, Any] | None


def get_job(conn: psycopg.Connection, job_id: uuid.UUID) -> dict[str, Any] | None:
    return conn.execute("select * from ml_jobs where id = %s", (job_id,)).fetchone()


def claim_job(conn: psycopg.Connection, job_id: uuid.UUID, worker: str, lease_seconds: int) -> Claim:
    """Take the lease of a job if it is free (the rules: module docstring; the outcomes: :class:`ClaimOutcome`)."""
    job = conn.execute(
        """
        update ml_jobs
           set status = 'processing', attempts = attempts + 1, locked_by = %(worker)s,
               lease_expires_at = now() + make_interval(secs => %(lease)s),
               started_at = coalesce(started_at, now()), updated_at = now()
         where id = %(id)s and attempts < max_attempts
           and (status = 'pending' or (status = 'processing' and lease_expires_at < now()))
        returning *
        """,
        {"id": job_id, "worker": worker, "lease": lease_seconds},
    ).fetchone()
    if job is not None:
        return Claim(ClaimOutcome.CLAIMED, job)
    job = conn.execute("select *, coalesce(lease_expires_at > now(), false) as lease_live "
                       "from ml_jobs where id = %s for update", (job_id,)).fetchone()
    if job is None:
        return Claim(ClaimOutcome.MISSING, None)
    if job["status"] in ("completed", "failed"):
        return Claim(ClaimOutcome.DONE, job)
    if job["status"] == "processing" and job["lease_live"]:
        return Claim(ClaimOutcome.BUSY, job)
    # Free but out of attempts: the last worker died holding it. Fail it for good.
    failed = _finish(conn, job_id, None, "failed", None,
                     f"gave up after {job['attempts']} attempts (last error: {job['error'] or 'worker lost'})")
    return Claim(ClaimOutcome.EXHAUSTED, failed)


def _finish(conn: psycopg.Connection, job_id: uuid.UUID, worker: str | None, status: str,
            result: dict[str, Any] | None, error: str | None) -> dict[str, Any] | None:
    return conn.execute(
        """
        update ml_jobs
           set status = %(status)s, result = %(result)s, error = %(error)s, completed_at = now(),
               lease_expires_at = null, updated_at = now()
         where id = %(id)s and status not in ('completed', 'failed')
           and (%(worker)s::text is null or locked_by = %(worker)s)
        returning *
        """,
        {"id": job_id, "worker": worker, "status": status,
         "result": Jsonb(result) if result is not None else None, "error": error},
    ).fetchone()


def complete_job(conn: psycopg.Connection, job_id: uuid.UUID, worker: str | None,
                 result: dict[str, Any]) -> dict[str, Any] | None:
    """Mark the job completed with its result; None when the caller no longer holds it."""
    return _finish(conn, job_id, worker, "completed", result, None)


def fail_job(conn: psycopg.Connection, job_id: uuid.UUID, worker: str | None, error: str) -> dict[str, Any] | None:
    """Mark the job failed for good (a permanent error, e.g. a corrupt image)."""
    return _finish(conn, job_id, worker, "failed", None, error)


def release_job(conn: psycopg.Connection, job_id: uuid.UUID, worker: str, error: str) -> dict[str, Any] | None:
    """Give the lease back after a transient error so a redelivery can claim it at once.

    When this was the last allowed attempt the job fails for good instead, so the message
    that Pub/Sub then dead-letters and the job row tell the same story.
    """
    return conn.execute(
        """
        update ml_jobs
           set status = case when attempts >= max_attempts then 'failed' else 'pending' end,
               completed_at = case when attempts >= max_attempts then now() end,
               error = %(error)s, lease_expires_at = null, locked_by = null, updated_at = now()
         where id = %(id)s and status = 'processing' and locked_by = %(worker)s
        returning *
        """,
        {"id": job_id, "worker": worker, "error": error},
    ).fetchone()


def fail_open_jobs(conn: psycopg.Connection, event_id: uuid.UUID, reason: str) -> int:
    """Fail every pending or running job of the event for good; return how many.

    For work that must not go on (face recognition turned off, a demo run whose queue and
    workers are gone): a worker still holding one of these finds it finished and writes nothing.
    """
    return conn.execute(
        "update ml_jobs set status = 'failed', error = %s, completed_at = now(), lease_expires_at = null,"
        " updated_at = now() where event_id = %s and status in ('pending', 'processing')",
        (reason, event_id)).rowcount


# In flight, and the clustering decision ------------------------------------------------------


def cluster_job_in_flight(conn: psycopg.Connection, event_id: uuid.UUID) -> uuid.UUID | None:
    row = conn.execute("select id from ml_jobs where event_id = %s and job_type = 'cluster'"
                       " and status in ('pending', 'processing')", (event_id,)).fetchone()
    return row["id"] if row else None


def rewrite_in_flight(conn: psycopg.Connection, event_id: uuid.UUID) -> dict[str, Any] | None:
    """The clustering or re-embedding job of the event in flight, with whether nobody holds it."""
    return conn.execute(
        """
        select id, job_type, status, model,
               status = 'pending' or coalesce(lease_expires_at < now(), true) as abandoned
          from ml_jobs
         where event_id = %s and job_type in ('cluster', 'reembed') and status in ('pending', 'processing')
        """,
        (event_id,)).fetchone()


@dataclass(frozen=True)
class ClusterState:
    """One event's counts for one model, as :func:`cluster_state` reads them for the clustering trigger."""

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
    """The counts the clustering trigger decides on (None: no such event).

    Recounted from ``faces``, ``media``, ``media_analyses`` and ``ml_jobs`` every time, never from
    what a callback said, so a lost callback only delays a decision until the next one or the sweep.
    """
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


# The sweep -----------------------------------------------------------------------------------


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
