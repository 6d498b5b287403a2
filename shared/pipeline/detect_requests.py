"""Detection requests: create the jobs an event's media need and publish one message per job.

Jobs are committed before their messages are published, so a message always finds its row.
A message that fails to publish fails its job at once (the in-flight index would otherwise
block the media forever) and the caller answers 503: re-sending the same request then
creates and publishes exactly the jobs that are missing. A crash between commit and publish
leaves pending jobs that the ml-callback sweep republishes.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.db.connection import get_pool, transaction
from shared.db.event_models import event_model
from shared.db.events import lock_event_face_data
from shared.db.faces import event_media, forget_analyses
from shared.db.ml_jobs import create_detect_jobs, fail_unpublished_jobs
from shared.pipeline.messages import DetectMessage
from shared.pipeline.publisher import get_detect_publisher
from shared.settings import Settings
from shared.storage import image_location_for_media

logger = logging.getLogger(__name__)


class UnknownMediaError(ValueError):
    """Some requested media are not image media of the event."""

    def __init__(self, media_ids: Collection[uuid.UUID]) -> None:
        self.media_ids = sorted(media_ids)
        super().__init__(f"not image media of this event: {', '.join(map(str, self.media_ids[:5]))}"
                         + (" ..." if len(self.media_ids) > 5 else ""))


@dataclass
class DetectEnqueueResult:
    job_ids: list[uuid.UUID] = field(default_factory=list)       # created and published
    skipped_analysed: int = 0       # already analysed by the current model (no force)
    already_in_flight: int = 0      # a pending/processing job exists
    reanalysed: int = 0             # analyses dropped because of force
    publish_failed: dict[uuid.UUID, str] = field(default_factory=dict)


def detect_messages(jobs: Iterable[Mapping[str, Any]], settings: Settings) -> list[DetectMessage]:
    """The message of each detect job row (id, event_id, media_id, model, storage_path), whether new or
    republished by the sweep. The image is a storage location the worker signs right before fetching,
    so a message that waited in the queue never carries an expired URL."""
    return [DetectMessage(job_id=job["id"], event_id=job["event_id"], media_id=job["media_id"],
                          image=image_location_for_media(job["storage_path"], settings), model=job["model"])
            for job in jobs]


def enqueue_detection(settings: Settings, event_id: uuid.UUID, media_ids: Collection[uuid.UUID] | None,
                      priority: int, force: bool) -> DetectEnqueueResult:
    """Create and publish detect jobs for the event's media (all of them when ``media_ids`` is None)."""
    result = DetectEnqueueResult()
    with transaction(get_pool(settings)) as conn:
        model = event_model(conn, event_id, settings.model_pack)
        media = event_media(conn, event_id, model, media_ids)
        if media_ids is not None and len(media) != len(set(media_ids)):
            raise UnknownMediaError(set(media_ids) - {row["id"] for row in media})
        analysed = [row["id"] for row in media if row["analysed"]]
        if force and analysed:
            lock_event_face_data(conn, event_id)
            result.reanalysed = forget_analyses(conn, event_id, model, analysed)
        todo = [row["id"] for row in media if force or not row["analysed"]]
        result.skipped_analysed = len(media) - len(todo)
        created = create_detect_jobs(conn, event_id, model, todo, priority, settings.job_max_attempts)
        result.already_in_flight = len(todo) - len(created)
    if created:
        report = get_detect_publisher(settings).publish(detect_messages(created, settings))
        result.job_ids = list(report.published)
        result.publish_failed = report.failed
        if report.failed:
            with transaction(get_pool(settings)) as conn:
                fail_unpublished_jobs(conn, report.failed)
    logger.info("detection enqueued", extra={"event_id": str(event_id), "jobs": len(result.job_ids),
                                             "skipped_analysed": result.skipped_analysed,
                                             "already_in_flight": result.already_in_flight,
                                             "publish_failed": len(result.publish_failed)})
    return result
