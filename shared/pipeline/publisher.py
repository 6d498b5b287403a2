"""Publishing detection messages to Pub/Sub, batched.

The client batches on its own (up to ``MAX_BATCH_MESSAGES`` per request or ``MAX_LATENCY``
seconds), so publishing a thousand-photo event is a handful of requests. It honours
``PUBSUB_EMULATOR_HOST`` (local development and tests) and never creates the topic: in
production the topic belongs to Terraform, and a missing topic is a configuration error
worth failing on.
"""

from __future__ import annotations

import functools
import logging
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from google.cloud import pubsub_v1

from shared.pipeline.messages import DetectMessage
from shared.settings import Settings

logger = logging.getLogger(__name__)

MAX_BATCH_MESSAGES = 100
MAX_BATCH_BYTES = 1_000_000
MAX_LATENCY = 0.05
PUBLISH_TIMEOUT = 30.0


@dataclass
class PublishReport:
    published: dict[uuid.UUID, str] = field(default_factory=dict)   # job id → Pub/Sub message id
    failed: dict[uuid.UUID, str] = field(default_factory=dict)      # job id → error


class DetectPublisher:
    """Publishes :class:`DetectMessage`s to ``projects/{GOOGLE_CLOUD_PROJECT}/topics/{PUBSUB_TOPIC}``."""

    def __init__(self, settings: Settings, client: pubsub_v1.PublisherClient | None = None) -> None:
        self._client = client or pubsub_v1.PublisherClient(batch_settings=pubsub_v1.types.BatchSettings(
            max_messages=MAX_BATCH_MESSAGES, max_bytes=MAX_BATCH_BYTES, max_latency=MAX_LATENCY))
        self.topic = self._client.topic_path(settings.google_cloud_project, settings.pubsub_topic)

    def publish(self, messages: Sequence[DetectMessage]) -> PublishReport:
        """Publish all messages (batched), then wait for each; failures are reported per job, not raised."""
        futures = [(message, self._client.publish(self.topic, message.to_bytes(), event_id=str(message.event_id),
                                                  media_id=str(message.media_id)))
                   for message in messages]
        report = PublishReport()
        for message, future in futures:
            try:
                report.published[message.job_id] = future.result(timeout=PUBLISH_TIMEOUT)
            except Exception as exc:  # any publish error: the caller fails that job so it can be re-enqueued
                report.failed[message.job_id] = f"{type(exc).__name__}: {exc}"
        if report.failed:
            logger.error("some detection messages were not published",
                         extra={"topic": self.topic, "failed": len(report.failed),
                                "first_error": next(iter(report.failed.values()))})
        return report


@functools.cache
def _publisher_for(settings: Settings, emulator_host: str | None) -> DetectPublisher:
    """One publisher per settings (project and topic are in them) and per emulator, which the
    client reads from the environment when it is created."""
    return DetectPublisher(settings)


def get_detect_publisher(settings: Settings) -> DetectPublisher:
    """The process-wide publisher (a client per process: creating one costs a channel and threads)."""
    return _publisher_for(settings, os.environ.get("PUBSUB_EMULATOR_HOST"))
