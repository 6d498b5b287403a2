"""SQL for ``ml_jobs``: claiming with a lease, finishing, failing, and reading state.

Pub/Sub delivers at least once and Cloud Run may kill a worker at any time, so a job moves
through states only with conditional updates:

* ``claim_job`` takes a job that is ``pending``, or ``processing`` with an expired lease (its
  worker died), and sets a new lease; a second delivery of the same job finds it either
  leased by someone else (``busy``: retry later) or finished (``done``: acknowledge).
* ``complete_job`` / ``fail_job`` / ``release_job`` only act while the caller still holds the
  lease (``locked_by``), so a worker that lost its lease cannot overwrite a newer outcome.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

PRIORITIES: dict[str, int] = {"low": 0, "normal": 1, "high": 2}


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
    """Take the lease of a job if it is free; see the module docstring for the outcomes."""
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
