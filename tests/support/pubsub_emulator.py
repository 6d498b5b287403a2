"""The real Pub/Sub emulator (Google Cloud SDK), one per test session, on a free port.

It pushes to HTTP endpoints on loopback, retries non-2xx answers with the subscription's
backoff and honours dead-letter policies, but sends no OIDC token. Tests are skipped, with
the reason, only where the emulator binary is not installed.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.cloud import pubsub_v1

EMULATOR_BIN = Path(os.environ.get("PUBSUB_EMULATOR_BIN",
                                   "/usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator"))
PROJECT = "facecluster-test"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
    if not EMULATOR_BIN.exists():
        pytest.skip(f"Pub/Sub emulator not installed at {EMULATOR_BIN} "
                    "(gcloud components install pubsub-emulator, or set PUBSUB_EMULATOR_BIN)")
    port = free_port()
    log_path = tmp_path_factory.mktemp("pubsub") / "emulator.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen([str(EMULATOR_BIN), "--host=127.0.0.1", f"--port={port}"],
                                   stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_ready(f"http://127.0.0.1:{port}/", process, log_path)
        yield PubsubEmulator(f"127.0.0.1:{port}")
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def _wait_ready(url: str, process: subprocess.Popen, log_path: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Pub/Sub emulator exited with {process.returncode}: {log_path.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"Pub/Sub emulator not ready after {timeout} s: {log_path.read_text()[-2000:]}")
