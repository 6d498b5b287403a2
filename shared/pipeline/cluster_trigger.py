"""When to cluster an event, and starting it exactly once.

The rule (computed from the database alone, see :func:`shared.db.ml_jobs.cluster_state`),
for the event's model pack (:mod:`shared.db.event_models`):

* **First clustering**: once the event has at least ``MIN_FACES`` (10) faces and at least
  ``MIN_SETTLED_SHARE`` (80 %) of its image media are settled (analysed, or failed for good).
* **Afterwards** new faces are placed by incremental assignment at detection time; those it
  cannot place stay unassigned. Clustering runs again when the unassigned faces created
  since the start of the last completed clustering reach
  ``max(RECLUSTER_MIN_NEW_FACES, RECLUSTER_SHARE × assigned faces)`` = max(10, 20 %).
* Never while a clustering of the event is in flight, never within
  ``FAILURE_BACKOFF_SECONDS`` (5 min) of a failed one, never with face recognition off.

Exactly once: the decision and the insert of the ``cluster`` job row happen under a
per-event transaction lock, and the unique index on in-flight cluster jobs backs it up; only
the transaction that inserted the row starts the runner, after committing it.
"""

from __future__ import annotations

import logging
import math
import uuid
from dataclasses import dataclass

from shared.db.connection import get_pool, transaction
from shared.db.event_models import event_model
from shared.db.ml_jobs import (
    PRIORITIES,
    ClusterState,
    cluster_job_in_flight,
    cluster_state,
    create_cluster_job,
    events_with_pending_faces,
    fail_job,
    lock_cluster_decision,
    stale_cluster_jobs,
    stale_detect_jobs,
)
from shared.db.ratelimit import delete_expired_windows
from shared.pipeline.cluster_launch import get_cluster_runner
from shared.pipeline.detect_requests import detect_messages
from shared.pipeline.media_inserts import start_detection_of_overdue_media
from shared.pipeline.publisher import get_detect_publisher
from shared.settings import Settings

logger = logging.getLogger(__name__)

MIN_FACES = 10
MIN_SETTLED_SHARE = 0.8
RECLUSTER_MIN_NEW_FACES = 10
RECLUSTER_SHARE = 0.2
FAILURE_BACKOFF_SECONDS = 300
STALE_CLUSTER_SECONDS = 600
STALE_DETECT_SECONDS = 1800
SWEEP_EVENT_LIMIT = 500
SWEEP_DETECT_LIMIT = 1000
RATE_LIMIT_RETENTION_SECONDS = 3600


class ClusterStartError(RuntimeError):
    """The runner could not start the job (its row has been failed, so a later trigger retries)."""


@dataclass(frozen=True)
class Decision:
    start: bool
    reason: str


def decide(state: ClusterState) -> Decision:
    """Apply the rule of the module docstring to the counts of one event."""
    if not state.face_recognition_enabled:
        return Decision(False, "face recognition is off")
    if state.cluster_in_flight:
        return Decision(False, "a clustering is in flight")
    if state.last_failure_age_seconds is not None and state.last_failure_age_seconds < FAILURE_BACKOFF_SECONDS:
        return Decision(False, "the last clustering failed less than 5 minutes ago")
    if state.last_clustered_at is None:
        if state.faces < MIN_FACES:
            return Decision(False, f"{state.faces} faces (< {MIN_FACES})")
        if state.settled_media < MIN_SETTLED_SHARE * state.image_media:
            return Decision(False, f"{state.settled_media}/{state.image_media} media processed (< 80 %)")
        return Decision(True, "first clustering")
    needed = max(RECLUSTER_MIN_NEW_FACES, math.ceil(RECLUSTER_SHARE * state.assigned_faces))
    if state.new_unassigned_faces < needed:
        return Decision(False, f"{state.new_unassigned_faces} new unassigned faces (< {needed})")
    return Decision(True, f"{state.new_unassigned_faces} new unassigned faces (>= {needed})")


@dataclass(frozen=True)
class TriggerResult:
    started: bool
    reason: str
    job_id: uuid.UUID | None = None


def start_cluster_run(settings: Settings, event_id: uuid.UUID, job_id: uuid.UUID) -> None:
    """Start the runner for a committed job row; if it cannot start, fail the row (and raise)."""
    try:
        description = get_cluster_runner(settings).start(event_id, job_id)
    except Exception as exc:
        with transaction(get_pool(settings)) as conn:
            fail_job(conn, job_id, None, f"could not start clustering: {type(exc).__name__}: {exc}"[:1000])
        raise ClusterStartError(f"could not start clustering of event {event_id}: {exc}") from exc
    logger.info("clustering started", extra={"event_id": str(event_id), "job_id": str(job_id),
                                              "runner": description})


def maybe_start_clustering(settings: Settings, event_id: uuid.UUID) -> TriggerResult:
    """Start clustering of the event if the rule says so (at most one start however many callers)."""
    with transaction(get_pool(settings)) as conn:
        lock_cluster_decision(conn, event_id)
        model = event_model(conn, event_id, settings.model_pack)
        state = cluster_state(conn, event_id, model)
        if state is None:
            return TriggerResult(False, "no such event")
        decision = decide(state)
        job_id = None
        if decision.start:
            job_id = create_cluster_job(conn, event_id, model, PRIORITIES["normal"], settings.job_max_attempts)
    if job_id is None:
        return TriggerResult(False, decision.reason if not decision.start else "a clustering is in flight")
    start_cluster_run(settings, event_id, job_id)
    return TriggerResult(True, decision.reason, job_id)


def sweep(settings: Settings) -> dict[str, int]:
    """Recover what lost messages and dead runners left behind, then re-evaluate every event with work.

    Lost messages include a media insert's webhook or notification: media the database recorded as
    awaiting detection for longer than a nudge takes get their jobs here.

    Meant to run every few minutes (Cloud Scheduler → ml-callback ``{"type": "sweep"}``).
    """
    with transaction(get_pool(settings)) as conn:
        stale_clusters = stale_cluster_jobs(conn, STALE_CLUSTER_SECONDS)
        stale_detects = stale_detect_jobs(conn, STALE_DETECT_SECONDS, SWEEP_DETECT_LIMIT)
        events = events_with_pending_faces(conn, SWEEP_EVENT_LIMIT)
        delete_expired_windows(conn, RATE_LIMIT_RETENTION_SECONDS)
    restarted = 0
    for job in stale_clusters:
        try:
            start_cluster_run(settings, job["event_id"], job["id"])
            restarted += 1
        except ClusterStartError:
            logger.exception("could not restart a stale clustering job", extra={"job_id": str(job["id"])})
    republished = 0
    if stale_detects:  # a failure here leaves the job pending: the next sweep tries again
        republished = len(get_detect_publisher(settings).publish(detect_messages(stale_detects, settings)).published)
    inserted_media_published = start_detection_of_overdue_media(settings)
    started = 0
    for event_id in events:
        try:
            started += maybe_start_clustering(settings, event_id).started
        except ClusterStartError:
            logger.exception("could not start clustering", extra={"event_id": str(event_id)})
    return {"clusters_restarted": restarted, "detects_republished": republished,
            "inserted_media_published": inserted_media_published,
            "events_evaluated": len(events), "clusters_started": started}


def start_clustering_now(settings: Settings, event_id: uuid.UUID, priority: int) -> TriggerResult:
    """An organiser's explicit request: start unless a clustering of the event is already in flight."""
    with transaction(get_pool(settings)) as conn:
        lock_cluster_decision(conn, event_id)
        job_id = create_cluster_job(conn, event_id, event_model(conn, event_id, settings.model_pack), priority,
                                    settings.job_max_attempts)
        running = None if job_id else cluster_job_in_flight(conn, event_id)
    if job_id is None:
        return TriggerResult(False, "a clustering is in flight", running)
    start_cluster_run(settings, event_id, job_id)
    return TriggerResult(True, "requested", job_id)
