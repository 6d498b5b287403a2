"""One clustering job run: take the ``ml_jobs`` row, cluster, record the outcome, call back.

The job row is the unit of uniqueness (``uq_ml_jobs_cluster_in_flight``: one in-flight
clustering per event). Started by ml-enqueue / ml-callback, the run gets the row's id and
claims it; started by hand without one, it creates the row itself, and a second concurrent
run finds the row taken and stops cleanly, saying so.

The lease is at least an hour: a clustering run is one process that either finishes or dies;
the lease only matters after it died, to let a later run take the job over.
"""

from __future__ import annotations

import enum
import logging
import os
import socket
import uuid
from dataclasses import dataclass

from shared.clustering.cluster_event import cluster_event
from shared.db.connection import connect, resolve_database_url
from shared.db.event_models import event_model
from shared.db.ml_jobs import ClaimOutcome, claim_job, complete_job, create_cluster_job, fail_job
from shared.log import log_context
from shared.pipeline.job_signal import JobOutcome, send_callback
from shared.settings import Settings

logger = logging.getLogger(__name__)

MIN_LEASE_SECONDS = 3600


class RunStatus(enum.Enum):
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"      # nothing to do: another run holds the event, or the job is finished


@dataclass(frozen=True)
class RunOutcome:
    status: RunStatus
    job_id: uuid.UUID | None
    message: str

    @property
    def exit_code(self) -> int:
        return 1 if self.status is RunStatus.FAILED else 0


def run_cluster_job(settings: Settings, event_id: uuid.UUID, job_id: uuid.UUID | None) -> RunOutcome:
    worker = f"cluster:{os.environ.get('CLOUD_RUN_EXECUTION') or socket.gethostname()}:{os.getpid()}"
    lease = max(settings.job_lease_seconds, MIN_LEASE_SECONDS)
    with connect(resolve_database_url(settings), autocommit=True) as conn:
        if job_id is None:
            job_id = create_cluster_job(conn, event_id, event_model(conn, event_id, settings.model_pack), priority=1,
                                        max_attempts=settings.job_max_attempts)
            if job_id is None:
                return _skipped(None, "a clustering of this event is already in flight; not starting another")
        with log_context(job_id=job_id, event_id=event_id):
            claim = claim_job(conn, job_id, worker, lease)
            if claim.outcome is ClaimOutcome.MISSING:
                return _failed(None, event_id, settings, f"clustering job {job_id} does not exist")
            if claim.outcome is ClaimOutcome.EXHAUSTED:
                return _failed(job_id, event_id, settings, claim.job["error"] if claim.job else "attempts used up")
            if claim.outcome is ClaimOutcome.BUSY:
                return _skipped(job_id, f"job {job_id} is being processed by another run; nothing to do")
            if claim.outcome is ClaimOutcome.DONE:
                return _skipped(job_id, f"job {job_id} is already {claim.job['status']}; nothing to do")
            if claim.job["event_id"] != event_id:
                fail_job(conn, job_id, worker, f"job belongs to event {claim.job['event_id']}, not {event_id}")
                return _failed(job_id, event_id, settings, "job and event id disagree")
            try:  # the event's pack: a re-embedding may have moved the event since the row was created
                result = cluster_event(conn, event_id, settings)
            except Exception as exc:
                logger.exception("clustering failed")
                reason = f"{type(exc).__name__}: {exc}"[:1000]
                fail_job(conn, job_id, worker, reason)
                return _failed(job_id, event_id, settings, reason)
            if complete_job(conn, job_id, worker, result.job_result()) is None:
                logger.warning("the job's lease was lost before completion; its result was written anyway")
            send_callback(settings, JobOutcome(job_id, "cluster", event_id, "completed", result=result.job_result()))
            return RunOutcome(RunStatus.COMPLETED, job_id, f"{result.persons} persons, {result.assigned} of "
                                                           f"{result.faces} faces assigned")


def _skipped(job_id: uuid.UUID | None, message: str) -> RunOutcome:
    logger.info(message)
    return RunOutcome(RunStatus.SKIPPED, job_id, message)


def _failed(job_id: uuid.UUID | None, event_id: uuid.UUID, settings: Settings, reason: str) -> RunOutcome:
    """Log the failure and, when it concerns a job row (whose status is recorded), report it to ml-callback."""
    logger.error("clustering failed: %s", reason)
    if job_id is not None:
        send_callback(settings, JobOutcome(job_id, "cluster", event_id, "failed", error=reason))
    return RunOutcome(RunStatus.FAILED, job_id, reason)
