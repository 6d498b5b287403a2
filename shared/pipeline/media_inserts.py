"""A media row inserted into an event with face recognition on starts its detection.

The database records the media as awaiting detection when the row is inserted and then nudges the
backend (Supabase: a ``pg_net`` webhook; elsewhere ``pg_notify``, which the local stack forwards):
see migration ``20261130001000``. The nudge names only an event; what to do is read here from the
database, so a forged, repeated or concurrent nudge cannot create a second job or message
(:func:`shared.pipeline.detect_requests.enqueue_detection` publishes only the jobs its own insert created) and a
lost one is made up for by the sweep (:func:`start_detection_of_overdue_media`).

Records are forgotten only after their jobs are committed and published: a crash or a failed
publish in between leaves them for the next nudge or sweep.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from shared.db.connection import get_pool, transaction
from shared.db.events import face_recognition_state
from shared.db.media_inserts import awaiting_media, events_with_awaiting_media, forget_awaiting_media
from shared.db.ml_jobs import PRIORITIES
from shared.pipeline.detect_requests import DetectEnqueueResult, enqueue_detection
from shared.settings import Settings

logger = logging.getLogger(__name__)

# The webhook or notification normally arrives within a second; records older than this were missed.
OVERDUE_SECONDS = 120
SWEEP_EVENT_LIMIT = 500


@dataclass(frozen=True)
class InsertedMediaResult:
    awaiting: int                                   # media the database recorded for the event
    enqueued: DetectEnqueueResult | None = None     # None: nothing was enqueued
    skipped: str | None = None                      # why nothing was enqueued although media awaited

    @property
    def published(self) -> bool:
        """Whether every job is out (the records are then forgotten)."""
        return self.enqueued is None or not self.enqueued.publish_failed


def start_detection_of_inserted_media(settings: Settings, event_id: uuid.UUID) -> InsertedMediaResult:
    """Create and publish the detect jobs of the event's media awaiting detection, then forget them."""
    with transaction(get_pool(settings)) as conn:
        media_ids = awaiting_media(conn, event_id)
        if not media_ids:
            return InsertedMediaResult(0)
        if not face_recognition_state(conn, event_id):  # turned off since the insert
            forget_awaiting_media(conn, media_ids)
            return InsertedMediaResult(len(media_ids), skipped="face recognition is off for this event")
    enqueued = enqueue_detection(settings, event_id, media_ids, PRIORITIES["normal"], force=False)
    result = InsertedMediaResult(len(media_ids), enqueued)
    if result.published:
        with transaction(get_pool(settings)) as conn:
            forget_awaiting_media(conn, media_ids)
    return result


def start_detection_of_overdue_media(settings: Settings) -> int:
    """The sweep's part: start detection of media whose nudge never came; return the jobs published."""
    with transaction(get_pool(settings)) as conn:
        events = events_with_awaiting_media(conn, OVERDUE_SECONDS, SWEEP_EVENT_LIMIT)
    published = 0
    for event_id in events:
        try:
            result = start_detection_of_inserted_media(settings, event_id)
        except Exception:  # one event's failure must not stop the others; its records stay for the next sweep
            logger.exception("could not start detection of inserted media", extra={"event_id": str(event_id)})
            continue
        published += len(result.enqueued.job_ids) if result.enqueued else 0
    return published
