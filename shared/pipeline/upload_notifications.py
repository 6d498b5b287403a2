"""Event-driven uploads: a Cloud Storage object-finalize notification becomes a detect job.

The bucket's Pub/Sub notification publishes to the same topic as ml-enqueue, with attributes
``eventType``, ``bucketId`` and ``objectId``. An upload into an event with face recognition
enabled is then processed without anyone pressing a button: the object is mapped to its
``media`` row, the detect job is created (or the one already in flight is reused) and run
like any other.

Only notifications of ``UPLOADS_BUCKET`` are acted on, and the image is fetched from what the
matched media row says (a bare object name there means this bucket: the notification proved
the object is in Cloud Storage), never from the notification itself.

The app may write the media row a moment after the upload, so a notification whose object has
no media row yet is retried for :data:`MEDIA_ROW_GRACE` after publication; after that it is an
object face recognition does not care about (a thumbnail, an export) and is acknowledged.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from shared.db.connection import DatabaseUnavailableError, get_pool, transaction
from shared.db.event_models import event_model
from shared.db.faces import media_analysis, media_for_object
from shared.db.ml_jobs import ensure_detect_job
from shared.detection.detect_job import run_detect_job
from shared.detection.outcome import DeliveryResult, ack, retry
from shared.detection.push import PubsubMessage
from shared.log import log_context
from shared.settings import Settings

logger = logging.getLogger(__name__)

OBJECT_FINALIZE = "OBJECT_FINALIZE"
MEDIA_ROW_GRACE = timedelta(minutes=10)


def is_storage_notification(message: PubsubMessage) -> bool:
    """Whether the message is a Cloud Storage notification rather than a detection message."""
    return "eventType" in message.attributes and "bucketId" in message.attributes


def process_storage_notification(message: PubsubMessage, settings: Settings) -> DeliveryResult:
    """Run detection for a newly finalized object; acknowledge every other storage event."""
    attributes = message.attributes
    event_type, bucket, name = attributes["eventType"], attributes["bucketId"], attributes.get("objectId", "")
    location = f"gs://{bucket}/{name}"
    with log_context(object=location):
        if event_type != OBJECT_FINALIZE or not name:
            return ack("ignored", reason=f"storage event {event_type} needs no detection")
        if bucket != settings.uploads_bucket:
            logger.warning("notification of a bucket other than UPLOADS_BUCKET: ignored")
            return ack("ignored", reason="the object is not in UPLOADS_BUCKET")
        try:
            with transaction(get_pool(settings)) as conn:
                media = media_for_object(conn, bucket, name)
                if media is None:
                    return _no_media_row(location, message.publish_time)
                if not media.face_recognition_enabled:
                    logger.info("upload into an event without face recognition: nothing to do")
                    return ack("skipped", reason="face recognition disabled for this event")
                model = event_model(conn, media.event_id, settings.model_pack)
                if media_analysis(conn, media.media_id, model) is not None:
                    return ack("duplicate", reason=f"media {media.media_id} is already analysed by {model}")
                job_id = ensure_detect_job(conn, event_id=media.event_id, media_id=media.media_id, model=model,
                                           max_attempts=settings.job_max_attempts)
        except DatabaseUnavailableError as exc:
            return retry("retry", str(exc))
        with log_context(job_id=job_id, media_id=media.media_id, event_id=media.event_id):
            logger.info("upload finalized: running detect job %s", job_id)
            return run_detect_job(job_id, settings, bare_keys="gs")


def _no_media_row(location: str, published: datetime | None) -> DeliveryResult:
    if published is not None and datetime.now(UTC) - published < MEDIA_ROW_GRACE:
        logger.info("no media row for the upload yet; asking for redelivery")
        return retry("retry", f"no media row for {location} yet")
    logger.info("no media row for the object: not a media upload, acknowledged")
    return ack("ignored", reason=f"no media row for {location}")
