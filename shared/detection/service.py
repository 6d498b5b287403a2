"""Detect the faces of one image for one ``ml_jobs`` row, safely under at-least-once delivery.

The flow of one job (:func:`run_detect_job`)::

    claim the lease ── done / busy / exhausted / missing → answer without work
        │ claimed
    event still wants faces? media still there? already analysed by the event's pack? → settle the job
        │
    image location from the media row, checked by the rules of shared.storage.policy
        │
    fetch → analyse with the event's pack   (no database connection held meanwhile)
        │
    one transaction: lock media+event and the face data, check the event's pack, store faces + media_analyses (once;
                     none over a user-placed face the photo keeps), complete the job
        │
    assign the new faces to known persons; signal ml-callback

Exactly-once faces come from :func:`shared.db.faces.store_media_faces`; the lease only keeps
two workers from *doing* the same work at once. Permanent problems (bad image, missing
object, disabled event) fail the job and acknowledge; transient ones give the lease back and
ask for a redelivery. The outcome is committed before ml-callback hears of it, so a lost
callback never loses data.

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
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg

from shared.callback_client import JobOutcome, send_callback
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
from shared.pipeline.messages import DetectMessage
from shared.reembed.matching import covered
from shared.settings import Settings
from shared.storage import ImageFetchError, StorageUnavailableError, fetch_image, media_image_location
from shared.storage.policy import Store

logger = logging.getLogger(__name__)

SKIPPED_DISABLED = "skipped: face recognition disabled for this event"


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
    return _JobRun(job_id, settings, expected, bare_keys).run()


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


class EventMovedError(Exception):
    """The event was re-embedded with another pack while its image was being analysed: analyse again."""


class _JobRun:
    """One attempt at one job; holds the lease from the claim to the outcome."""

    def __init__(self, job_id: uuid.UUID, settings: Settings, expected: DetectMessage | None,
                 bare_keys: Store) -> None:
        self.job_id = job_id
        self.bare_keys = bare_keys
        self.settings = settings
        self.expected = expected
        self.model: str | None = None   # the event's pack, chosen once the job is claimed
        self.pool = get_pool(settings)
        # Unique per attempt: a lease is only ever finished by the attempt that took it.
        self.worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.job: dict[str, Any] | None = None
        self.storage_path = ""                      # the media row's, read with the claim
        self.claimed = False
        self._settled: list[dict[str, Any]] = []    # job rows settled in the open transaction
        self._outcomes: list[dict[str, Any]] = []   # settled and committed: announced at the end

    def run(self) -> DeliveryResult:
        result = self._attempt()
        for job in self._outcomes:
            send_callback(self.settings, JobOutcome(
                job_id=job["id"], job_type="detect", event_id=job["event_id"], media_id=job["media_id"],
                status=job["status"], result=job["result"], error=job["error"]))
        return result

    def _attempt(self) -> DeliveryResult:
        try:
            settled = self._claim_and_check()
            if settled is not None:
                return settled
            job = self.job
            with log_context(job_id=job["id"], media_id=job["media_id"], event_id=job["event_id"]):
                logger.info("Processing media %s for job %s", job["media_id"], job["id"], extra={"model": self.model})
                analyzer = get_analyzer(self.settings.model_copy(update={"model_pack": self.model}))
                location = media_image_location(self.storage_path, self.settings, bare_keys=self.bare_keys)
                analysis = analyzer.analyze(fetch_image(location, self.settings))
                logger.info("Detected %d faces", len(analysis.faces),
                            extra={"faces": len(analysis.faces), "dropped_faces": analysis.dropped,
                                   "width": analysis.width, "height": analysis.height})
                return self._store(analysis)
        except (ImageFetchError, ImageError) as exc:
            return self._fail_permanently(f"{exc.code}: {exc}")
        except ModelFilesError as exc:  # a pack this deployment cannot load: an operator must act
            return self._fail_permanently(f"model_unavailable: {exc}")
        except (StorageUnavailableError, DatabaseUnavailableError, EventMovedError) as exc:
            logger.warning("transient failure, asking for redelivery: %s", exc)
            return self._give_back(Disposition.RETRY, "retry", str(exc))
        except Exception as exc:
            logger.exception("detection failed unexpectedly")
            return self._give_back(Disposition.ERROR, "error", f"{type(exc).__name__}: {exc}")

    # -- before the work -----------------------------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[psycopg.Connection]:
        """A transaction whose settled jobs become outcomes to announce only once it has committed.

        ml-callback can then trust the database: it is never told of an outcome that could
        still roll back, and it hears of a detection after the new faces were assigned.
        """
        self._settled.clear()
        with transaction(self.pool) as conn:
            yield conn
        self._outcomes.extend(self._settled)
        self._settled.clear()

    def _claim_and_check(self) -> DeliveryResult | None:
        """Claim the job and settle it at once when there is nothing to do; None = do the work."""
        with self._transaction() as conn:
            job = get_job(conn, self.job_id)
            if job is not None and (problem := self._mismatch(job)):
                logger.error("message does not match its job: %s", problem)
                return reject(problem)
            claim = claim_job(conn, self.job_id, self.worker, self.settings.job_lease_seconds)
            if claim.outcome is not ClaimOutcome.CLAIMED:
                return self._unclaimed(claim.outcome, claim.job)
            self.job, self.claimed = claim.job, True
            model = event_model(conn, self.job["event_id"], self.job["model"] or self.settings.model_pack)
            if model != self.job["model"]:
                logger.info("the job names pack %s; the event's pack is %s: analysing with that", self.job["model"],
                            model)
            self.model = model
            state = media_state(conn, self.job["media_id"])
            if state is None:
                return self._finish_failed(conn, "not_found: the media row is gone")
            if not state.face_recognition_enabled:
                return self._finish_failed(conn, SKIPPED_DISABLED, status="skipped")
            self.storage_path = state.storage_path
            done = media_analysis(conn, self.job["media_id"], model)
            if done is not None:  # analysed under an earlier job: the faces are there already
                return self._finish_completed(conn, {"faces": done["face_count"], "width": done["width"],
                                                     "height": done["height"], "model": model})
        return None

    def _mismatch(self, job: dict[str, Any]) -> str | None:
        expected = self.expected
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

    def _unclaimed(self, outcome: ClaimOutcome, job: dict[str, Any] | None) -> DeliveryResult:
        if outcome is ClaimOutcome.BUSY:
            logger.info("job is leased by another worker until %s; redeliver later", job["lease_expires_at"])
            return retry("busy", f"job {self.job_id} is being processed by another worker")
        if outcome is ClaimOutcome.MISSING:
            logger.warning("job %s does not exist (deleted with its media or event?); acknowledged", self.job_id)
            return ack("ignored", error=f"no job {self.job_id}")
        if outcome is ClaimOutcome.EXHAUSTED:
            logger.error("job gave up after %s attempts", job["attempts"])
            self._settled.append(job)
            return ack("failed", error=job["error"])
        logger.info("job already %s; duplicate delivery acknowledged", job["status"])
        return ack("duplicate", job_status=job["status"])

    # -- after the work ------------------------------------------------------------------

    def _store(self, analysis: ImageAnalysis) -> DeliveryResult:
        job, model = self.job, self.model
        with self._transaction() as conn:
            state = media_state(conn, job["media_id"], lock=True)
            if state is None:
                return self._finish_failed(conn, "not_found: the media row was deleted during analysis")
            if not state.face_recognition_enabled:
                return self._finish_failed(conn, SKIPPED_DISABLED, status="skipped")
            lock_event_face_data(conn, job["event_id"])  # an add_face on this photo commits before or after
            if (pinned := pin_event_model(conn, job["event_id"], model)) != model:
                raise EventMovedError(f"event {job['event_id']} was re-embedded with {pinned} during the analysis "
                                      f"with {model}")
            stored = store_media_faces(conn, event_id=job["event_id"], media_id=job["media_id"], model=model,
                                       width=analysis.width, height=analysis.height,
                                       faces=_beside_user_placed(conn, job["media_id"], model, analysis.faces))
            result = {"faces": stored.face_count, "width": stored.width, "height": stored.height, "model": model}
            settled = self._finish_completed(conn, result)
        if stored.face_ids:
            self._assign_to_persons(stored.face_ids)
        return settled

    def _assign_to_persons(self, face_ids: list[uuid.UUID]) -> None:
        """Put new faces into the event's existing persons right away (between clustering runs).

        Its own transaction, after the faces are committed: if it fails, the faces stay
        unassigned and the next clustering run takes them, so detection still succeeds.
        """
        try:
            with transaction(self.pool) as conn:
                assign_new_faces(conn, self.job["event_id"], face_ids, self.settings)
        except Exception:
            logger.exception("incremental assignment failed; the faces wait for the next clustering run")

    # -- settling the job ----------------------------------------------------------------

    def _finish_completed(self, conn: psycopg.Connection, result: dict[str, Any]) -> DeliveryResult:
        row = complete_job(conn, self.job_id, self.worker, result)
        if row is None:  # our lease expired and another attempt settled the job; the faces are stored once
            logger.warning("lease lost before completion; the job was settled by another attempt")
            return ack("duplicate", **result)
        self._settled.append(row)
        return ack("completed", **result)

    def _finish_failed(self, conn: psycopg.Connection, error: str, status: str = "failed") -> DeliveryResult:
        row = fail_job(conn, self.job_id, self.worker, error)
        logger.log(logging.WARNING if status == "failed" else logging.INFO, "job %s: %s", status, error)
        if row is not None:
            self._settled.append(row)
        return ack(status, error=error)

    def _fail_permanently(self, error: str) -> DeliveryResult:
        try:
            with self._transaction() as conn:
                return self._finish_failed(conn, error)
        except DatabaseUnavailableError as exc:  # cannot record it now: the redelivery will see the same error
            return self._give_back(Disposition.RETRY, "retry", str(exc))

    def _give_back(self, disposition: Disposition, status: str, error: str) -> DeliveryResult:
        """Release the lease so a redelivery can claim the job at once (or fail it if out of attempts)."""
        if self.claimed:
            try:
                with self._transaction() as conn:
                    row = release_job(conn, self.job_id, self.worker, error)
                    if row is not None and row["status"] == "failed":  # that was the last attempt
                        self._settled.append(row)
            except DatabaseUnavailableError:
                logger.warning("could not release the lease; it expires in at most JOB_LEASE_SECONDS")
        return DeliveryResult(disposition, status, {"error": error})
