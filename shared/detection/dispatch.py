"""One delivered Pub/Sub message → the right piece of work.

The topic carries two kinds of message: detection messages from ml-enqueue
(:class:`shared.pipeline.messages.DetectMessage`) and Cloud Storage upload notifications. Anything
that is neither is rejected with the schema's own explanation.
"""

from __future__ import annotations

import logging

from shared.detection.detect_job import process_detect_message
from shared.detection.outcome import DeliveryResult, reject
from shared.detection.push import PubsubMessage
from shared.log import log_context
from shared.pipeline.messages import DetectMessage, MessageError
from shared.pipeline.upload_notifications import is_storage_notification, process_storage_notification
from shared.settings import Settings

logger = logging.getLogger(__name__)


def handle_message(message: PubsubMessage, settings: Settings) -> DeliveryResult:
    """Process one message and say what became of it (see :class:`~shared.detection.outcome.Disposition`)."""
    with log_context(message_id=message.message_id, delivery_attempt=message.delivery_attempt):
        if is_storage_notification(message):
            return process_storage_notification(message, settings)
        try:
            detect = DetectMessage.from_bytes(message.data)
        except MessageError as exc:
            logger.error("malformed detection message: %s", exc)
            return reject(f"malformed detection message: {exc}")
        return process_detect_message(detect, settings)
