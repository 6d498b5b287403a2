"""Detect the faces of one image for one ``ml_jobs`` row, safely under at-least-once delivery.

The flow of one job (:func:`run_detect_job`), four steps that pass explicit values (a
:class:`ClaimedJob`, an ``ImageAnalysis``, a :class:`Settled`) and share no state::

    1. claim        take the lease ── done / busy / exhausted / missing → answer without work
                    event still wants faces? media still there? already analysed by the event's pack? → settle
        │ ClaimedJob
    2. fetch and    image location from the media row, checked by the rules of shared.storage.policy;
       analyse      fetch → analyse with the event's pack   (no database connection held meanwhile)
        │ ImageAnalysis
    3. store        one transaction: lock media+event and the face data, check the event's pack, store faces +
                    media_analyses (once; none over a user-placed face the photo keeps), complete the job;
                    then assign the new faces to known persons
        │ Settled
    4. settle       answer Pub/Sub; queue the signal of the committed outcome to ml-callback, which a
                    background thread sends after the ack (shared.pipeline.job_signal)

Exactly-once faces come from :func:`shared.db.faces.store_media_faces`; the lease only keeps
two workers from *doing* the same work at once. Permanent problems (bad image, missing
object, disabled event) fail the job and acknowledge; transient ones give the lease back and
ask for a redelivery. The outcome is committed before ml-callback hears of it, so a lost
signal never loses data: the sweep finds the work it would have started.

Which pack: the event's (:mod:`shared.db.event_models`), not necessarily ``MODEL_PACK`` nor the
job's: after ``MODEL_PACK`` changes, events analysed before keep their pack until an operator
re-embeds them, so their new photos are analysed with it (one analyser per pack, loaded on
first use). An event without faces yet takes the job's pack, and is pinned to it by the
transaction that stores its first faces. A re-embedding that moves the event while an image
is being analysed makes the store refuse those faces and ask for a redelivery, which
analyses the image with the event's new pack.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from shared.clustering.incremental import assign_new_faces
from shared.db.connection import DatabaseUnavailableError, get_pool, transaction
from shared.db.event_models import event_model, pin_event_model
from shared.db.events import lock_event_face_data
from shared.db.faces import media_analysis, media_state, store_media_faces
from shared.db.ml_jobs import ClaimOutcome, claim_job, complete_job, fail_job, get_job, release_job
from shared.db.person_actions import photo_faces
from shared.detection.outcome import DeliveryResult, Disposition, ack, reject, retry
from shared.face_analysis import Face, ImageAnalysis, ImageError, ModelFilesError, get_analyzer
from shared.log import log_context
from shared.pipeline.job_signal import JobOutcome, signal_in_background
from shared.pipeline.messages import DetectMessage
from shared.reembed.matching import covered
from shared.settings import Settings
from shared.storage import ImageFetchError, StorageUnavailableError, fetch_image, media_image_location
from shared.storage.policy import Store

logger = logging.getLogger(__name__)

SKIPPED_DISABLED = "skipped: face recognition disabled for this event"


class EventMovedError(Exception):
    """The event was re-embedded with another pack while its image was being analysed: analyse again."""


@dataclass(frozen=True)
class Lease:
    """Who may finish a job: only the attempt that claimed it (the worker id is unique per attempt)."""

    job_id: uuid.UUID
    worker: str


@dataclass(frozen=True)
class ClaimedJob:
    """A job this attempt holds the lease of, with what the work needs from the claim's transaction."""

    lease: Lease
    event_id: uuid.UUID
    media_id: uuid.UUID
    model: str            # the event's pack, which is not necessarily the job's
    storage_path: str     # the media row's


@dataclass(frozen=True)
class Settled:
    """The answer for Pub/Sub, and the job row to signal to ml-callback (None: nothing settled).

    Built only after the transaction that settled ``job`` committed, so ml-callback is never
    told of an outcome that could still roll back.
    """

    result: DeliveryResult
    job: dict[str, Any] | None = None


def process_detect_message(message: DetectMessage, settings: Settings) -> DeliveryResult:
    """Handle one detection message from ml-enqueue (its ``image`` is not read: the media row says where)."""
    with log_context(job_id=message.job_id, media_id=message.media_id, event_id=message.event_id):
        return run_detect_job(message.job_id, settings, expected=message)


def run_detect_job(job_id: uuid.UUID, settings: Settings, expected: DetectMessage | None = None,
                   bare_keys: Store = "storage") -> DeliveryResult:
    """Do (or settle) detect job ``job_id`` on its media row's image; see the module docstring.

    ``expected`` is the message that named the job: a message that disagrees with its job row
    is rejected without touching the job. ``bare_keys`` is the store a bare ``storage_path``
    names (:func:`shared.storage.policy.media_image_location`).
    """
    pool = get_pool(settings)
    lease = Lease(job_id, f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}")
    claimed: ClaimedJob | None = None
    try:
        claim = _claim(pool, lease, settings, expected)
        if isinstance(claim, Settled):
            settled = claim
        else:
            claimed = claim
            with log_context(job_id=job_id, media_id=claimed.media_id, event_id=claimed.event_id):
                analysis = _fetch_and_analyse(claimed, settings, bare_keys)
                settled, face_ids = _store(pool, claimed, analysis)
                _assign_to_persons(pool, claimed.event_id, face_ids, settings)
    except (ImageFetchError, ImageError) as exc:
        settled = _fail_permanently(pool, lease, f"{exc.code}: {exc}")
    except ModelFilesError as exc:  # a pack this deployment cannot load: an operator must act
        settled = _fail_permanently(pool, lease, f"model_unavailable: {exc}")
    except (StorageUnavailableError, DatabaseUnavailableError, EventMovedError) as exc:
        logger.warning("transient failure, asking for redelivery: %s", exc)
        settled = _give_back(pool, claimed.lease if claimed else None, Disposition.RETRY, "retry", str(exc))
    except Exception as exc:
        logger.exception("detection failed unexpectedly")
        settled = _give_back(pool, claimed.lease if claimed else None, Disposition.ERROR, "error",
                             f"{type(exc).__name__}: {exc}")
    if settled.job is not None:
        _signal(settings, settled.job)
    return settled.result


# -- 1. claim ------------------------------------------------------------------------------------

def _claim(pool: ConnectionPool, lease: Lease, settings: Settings,
           expected: DetectMessage | None) -> ClaimedJob | Settled:
    """Claim the job, or settle it at once when there is nothing to do."""
    with transaction(pool) as conn:
        job = get_job(conn, lease.job_id)
        if job is not None and (problem := _mismatch(job, expected)):
            logger.error("message does not match its job: %s", problem)
            return Settled(reject(problem))
        claim = claim_job(conn, lease.job_id, lease.worker, settings.job_lease_seconds)
        if claim.outcome is not ClaimOutcome.CLAIMED:
            return _unclaimed(lease.job_id, claim.outcome, claim.job)
        job = claim.job
        model = event_model(conn, job["event_id"], job["model"] or settings.model_pack)
        if model != job["model"]:
            logger.info("the job names pack %s; the event's pack is %s: analysing with that", job["model"], model)
        state = media_state(conn, job["media_id"])
        if state is None:
            return _fail(conn, lease, "not_found: the media row is gone")
        if not state.face_recognition_enabled:
            return _fail(conn, lease, SKIPPED_DISABLED, status="skipped")
        done = media_analysis(conn, job["media_id"], model)
        if done is not None:  # analysed under an earlier job: the faces are there already
            return _complete(conn, lease, {"faces": done["face_count"], "width": done["width"],
                                           "height": done["height"], "model": model})
        return ClaimedJob(lease, job["event_id"], job["media_id"], model, state.storage_path)


def _mismatch(job: dict[str, Any], expected: DetectMessage | None) -> str | None:
    """Why the message that named the job does not describe it; None when it does."""
    if job["job_type"] != "detect":
        return f"job {job['id']} is a {job['job_type']} job, not a detect job"
    if expected is None:
        return None
    if (job["media_id"], job["event_id"]) != (expected.media_id, expected.event_id):
        return (f"message names media {expected.media_id} of event {expected.event_id}, but job {job['id']} "
                f"is for media {job['media_id']} of event {job['event_id']}")
    if job["model"] is not None and job["model"] != expected.model:
        return f"message names model {expected.model!r}, but job {job['id']} is for {job['model']!r}"
    return None


def _unclaimed(job_id: uuid.UUID, outcome: ClaimOutcome, job: dict[str, Any] | None) -> Settled:
    if outcome is ClaimOutcome.BUSY:
        logger.info("job is leased by another worker until %s; redeliver later", job["lease_expires_at"])
        return Settled(retry("busy", f"job {job_id} is being processed by another worker"))
    if outcome is ClaimOutcome.MISSING:
        logger.warning("job %s does not exist (deleted with its media or event?); acknowledged", job_id)
        return Settled(ack("ignored", error=f"no job {job_id}"))
    if outcome is ClaimOutcome.EXHAUSTED:   # the claim has just failed it for good
        logger.error("job gave up after %s attempts", job["attempts"])
        return Settled(ack("failed", error=job["error"]), job)
    logger.info("job already %s; duplicate delivery acknowledged", job["status"])
    return Settled(ack("duplicate", job_status=job["status"]))


# -- 2. fetch and analyse (no database connection held) -------------------------------------------

def _fetch_and_analyse(claimed: ClaimedJob, settings: Settings, bare_keys: Store) -> ImageAnalysis:
    logger.info("Processing media %s for job %s", claimed.media_id, claimed.lease.job_id,
                extra={"model": claimed.model})
    analyzer = get_analyzer(settings.model_copy(update={"model_pack": claimed.model}))
    location = media_image_location(claimed.storage_path, settings, bare_keys=bare_keys)
    analysis = analyzer.analyze(fetch_image(location, settings))
    logger.info("Detected %d faces", len(analysis.faces),
                extra={"faces": len(analysis.faces), "dropped_faces": analysis.dropped,
                       "width": analysis.width, "height": analysis.height})
    return analysis


# -- 3. store ------------------------------------------------------------------------------------

def _store(pool: ConnectionPool, claimed: ClaimedJob, analysis: ImageAnalysis) -> tuple[Settled, list[uuid.UUID]]:
    """Store the faces and complete the job in one transaction; the settled job and the new face ids."""
    event_id, media_id, model = claimed.event_id, claimed.media_id, claimed.model
    with transaction(pool) as conn:
        state = media_state(conn, media_id, lock=True)
        if state is None:
            return _fail(conn, claimed.lease, "not_found: the media row was deleted during analysis"), []
        if not state.face_recognition_enabled:
            return _fail(conn, claimed.lease, SKIPPED_DISABLED, status="skipped"), []
        lock_event_face_data(conn, event_id)  # an add_face on this photo commits before or after
        if (pinned := pin_event_model(conn, event_id, model)) != model:
            raise EventMovedError(f"event {event_id} was re-embedded with {pinned} during the analysis with {model}")
        stored = store_media_faces(conn, event_id=event_id, media_id=media_id, model=model,
                                   width=analysis.width, height=analysis.height,
                                   faces=_beside_user_placed(conn, media_id, model, analysis.faces))
        result = {"faces": stored.face_count, "width": stored.width, "height": stored.height, "model": model}
        return _complete(conn, claimed.lease, result), stored.face_ids


def _beside_user_placed(conn: psycopg.Connection, media_id: uuid.UUID, model: str,
                        faces: Sequence[Face]) -> list[Face]:
    """The detected faces that are not a user-placed face the photo already has.

    Such faces survive a forced re-detection (:func:`shared.db.faces.forget_analyses`). When
    the detector now finds one of them too, the user's face wins: it keeps its id (the
    person's representative, the review page's links), its person and its ``origin``, and the
    embedding is of the same pack; a second face there would show the person twice on the photo.
    The caller holds the event's face-data lock, as ``add_face`` does while it stores one, so
    each sees the other's face (``add_face`` then answers 409 ``face_already_detected``).
    """
    placed = [row["bbox"] for row in photo_faces(conn, media_id, model) if row["origin"] == "user"]
    return [face for face, same in zip(faces, covered([f.bbox for f in faces], placed), strict=True) if not same]


def _assign_to_persons(pool: ConnectionPool, event_id: uuid.UUID, face_ids: list[uuid.UUID],
                       settings: Settings) -> None:
    """Put new faces into the event's existing persons right away (between clustering runs).

    Its own transaction, after the faces are committed: if it fails, the faces stay
    unassigned and the next clustering run takes them, so detection still succeeds. It runs
    before the signal, so ml-callback hears of a detection after its faces were assigned.
    """
    if not face_ids:
        return
    try:
        with transaction(pool) as conn:
            assign_new_faces(conn, event_id, face_ids, settings)
    except Exception:
        logger.exception("incremental assignment failed; the faces wait for the next clustering run")


# -- 4. settle -----------------------------------------------------------------------------------

def _complete(conn: psycopg.Connection, lease: Lease, result: dict[str, Any]) -> Settled:
    row = complete_job(conn, lease.job_id, lease.worker, result)
    if row is None:  # our lease expired and another attempt settled the job; the faces are stored once
        logger.warning("lease lost before completion; the job was settled by another attempt")
        return Settled(ack("duplicate", **result))
    return Settled(ack("completed", **result), row)


def _fail(conn: psycopg.Connection, lease: Lease, error: str, status: str = "failed") -> Settled:
    row = fail_job(conn, lease.job_id, lease.worker, error)
    logger.log(logging.WARNING if status == "failed" else logging.INFO, "job %s: %s", status, error)
    return Settled(ack(status, error=error), row)


def _fail_permanently(pool: ConnectionPool, lease: Lease, error: str) -> Settled:
    """Record a failure redelivery cannot cure (bad image, missing object, unloadable pack)."""
    try:
        with transaction(pool) as conn:
            return _fail(conn, lease, error)
    except DatabaseUnavailableError as exc:  # cannot record it now: the redelivery will see the same error
        return _give_back(pool, lease, Disposition.RETRY, "retry", str(exc))


def _give_back(pool: ConnectionPool, lease: Lease | None, disposition: Disposition, status: str,
               error: str) -> Settled:
    """Release the lease so a redelivery can claim the job at once (or fail it if out of attempts)."""
    answer = DeliveryResult(disposition, status, {"error": error})
    if lease is None:   # nothing claimed: nothing to give back
        return Settled(answer)
    try:
        with transaction(pool) as conn:
            row = release_job(conn, lease.job_id, lease.worker, error)
    except DatabaseUnavailableError:
        logger.warning("could not release the lease; it expires in at most JOB_LEASE_SECONDS")
        return Settled(answer)
    failed = row is not None and row["status"] == "failed"   # that was the last attempt
    return Settled(answer, row if failed else None)


def _signal(settings: Settings, job: dict[str, Any]) -> None:
    """Queue the signal to ml-callback of a committed outcome; Pub/Sub's ack does not wait for it
    (:mod:`shared.pipeline.job_signal`: the sweep recovers a signal that never arrives)."""
    signal_in_background(settings, JobOutcome(job_id=job["id"], job_type="detect", event_id=job["event_id"],
                                       media_id=job["media_id"], status=job["status"], result=job["result"],
                                       error=job["error"]))
