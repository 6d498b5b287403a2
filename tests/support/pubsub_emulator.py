"""The real Pub/Sub emulator (Google Cloud SDK), one per test session, on a free port.

It pushes to HTTP endpoints on loopback, retries non-2xx answers with the subscription's
backoff and honours dead-letter policies, but sends no OIDC token. Tests are skipped, with
the reason, only where the emulator binary is not installed.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from google.cloud import pubsub_v1

from localdev.stack.pubsub_emulator import SDK_EMULATOR, find_emulator, start_emulator

PROJECT = "facecluster-test"


class PubsubEmulator:
    """A running emulator with clients bound to it and helpers to build topics and subscriptions."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.project = PROJECT
        with pytest.MonkeyPatch.context() as patch:  # the clients read the variable when created
            patch.setenv("PUBSUB_EMULATOR_HOST", host)
            self.publisher = pubsub_v1.PublisherClient()
            self.subscriber = pubsub_v1.SubscriberClient()

    def create_topic(self, prefix: str = "topic") -> str:
        """A new topic with a unique name; returns its path."""
        path = self.publisher.topic_path(self.project, f"{prefix}-{uuid.uuid4().hex[:8]}")
        self.publisher.create_topic(name=path)
        return path

    def create_pull_subscription(self, topic: str) -> str:
        path = self.subscriber.subscription_path(self.project, f"pull-{uuid.uuid4().hex[:8]}")
        self.subscriber.create_subscription(name=path, topic=topic)
        return path

    def create_push_subscription(self, topic: str, endpoint: str, *, dead_letter_topic: str | None = None,
                                 max_delivery_attempts: int = 5, ack_deadline_seconds: int = 60,
                                 min_backoff_seconds: int = 1, max_backoff_seconds: int = 2) -> str:
        """A push subscription to ``endpoint``, retrying quickly (tests wait for its retries)."""
        path = self.subscriber.subscription_path(self.project, f"push-{uuid.uuid4().hex[:8]}")
        request = {
            "name": path, "topic": topic, "push_config": {"push_endpoint": endpoint},
            "ack_deadline_seconds": ack_deadline_seconds,
            "retry_policy": {"minimum_backoff": {"seconds": min_backoff_seconds},
                             "maximum_backoff": {"seconds": max_backoff_seconds}},
        }
        if dead_letter_topic:
            request["dead_letter_policy"] = {"dead_letter_topic": dead_letter_topic,
                                             "max_delivery_attempts": max_delivery_attempts}
        self.subscriber.create_subscription(request=request)
        return path

    def delete_subscription(self, path: str) -> None:
        self.subscriber.delete_subscription(subscription=path)

    def publish(self, topic: str, data: bytes, **attributes: str) -> str:
        return self.publisher.publish(topic, data, **attributes).result(timeout=10)

    def pull(self, subscription: str, timeout: float = 10.0) -> list[pubsub_v1.types.ReceivedMessage]:
        """Messages waiting on a pull subscription (acknowledged), polling until some arrive or ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            response = self.subscriber.pull(subscription=subscription, max_messages=10, timeout=5)
            if response.received_messages or time.monotonic() > deadline:
                if response.received_messages:
                    self.subscriber.acknowledge(subscription=subscription,
                                                ack_ids=[m.ack_id for m in response.received_messages])
                return list(response.received_messages)
            time.sleep(0.2)


@pytest.fixture(scope="session")
def pubsub_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PubsubEmulator]:
    """The emulator the demo runs (:mod:`localdev.stack.pubsub_emulator`), started once per session."""
    binary = find_emulator()
    if binary is None:
        pytest.skip(f"Pub/Sub emulator not installed at {SDK_EMULATOR} nor on PATH "
                    "(gcloud components install pubsub-emulator)")
    process, host = start_emulator(binary, tmp_path_factory.mktemp("pubsub"))
    try:
        yield PubsubEmulator(host)
    finally:
        process.stop()
