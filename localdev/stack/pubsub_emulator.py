"""The Pub/Sub emulator with the detection topic and a push subscription to the detection service.

The emulator delivers by real HTTP push, with retries on non-2xx, exactly as Pub/Sub does;
so the demo exercises the same boundary as production. It is part of the Google Cloud SDK
(``gcloud components install pubsub-emulator`` or Debian's ``google-cloud-cli-pubsub-emulator``);
when it is not installed, :mod:`localdev.stack.push_relay` stands in for it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from localdev.stack.processes import ManagedProcess, free_port, start_process, wait_for_port

SDK_EMULATOR = Path("/usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator")
ACK_DEADLINE_SECONDS = 600   # the push request itself is the work: give a slow image time
SUBSCRIPTION_ID = "ml-detect-push"


def find_emulator() -> Path | None:
    """The emulator launcher from the Cloud SDK, if this machine has it."""
    on_path = shutil.which("cloud-pubsub-emulator")
    if on_path:
        return Path(on_path)
    return SDK_EMULATOR if SDK_EMULATOR.is_file() else None


def start_emulator(binary: Path, log_dir: Path) -> tuple[ManagedProcess, str]:
    """Start the emulator on a free loopback port; return it and its ``host:port``."""
    port = free_port()
    process = start_process("pubsub-emulator", [str(binary), "--host=127.0.0.1", f"--port={port}"],
                            env=os.environ, log_dir=log_dir)
    try:
        wait_for_port(process, port, timeout=60)
    except BaseException:
        process.stop()
        raise
    return process, f"127.0.0.1:{port}"


@contextlib.contextmanager
def _emulator_env(host: str) -> Iterator[None]:
    """The client libraries find the emulator through this variable, read when a client is built."""
    previous = os.environ.get("PUBSUB_EMULATOR_HOST")
    os.environ["PUBSUB_EMULATOR_HOST"] = host
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("PUBSUB_EMULATOR_HOST", None)
        else:
            os.environ["PUBSUB_EMULATOR_HOST"] = previous


def create_push_subscription(host: str, project: str, topic: str, push_endpoint: str) -> str:
    """Create the topic and a push subscription to ``push_endpoint`` (idempotent); return its path."""
    from google.api_core.exceptions import AlreadyExists
    from google.cloud import pubsub_v1

    with _emulator_env(host):
        publisher = pubsub_v1.PublisherClient()
        subscriber = pubsub_v1.SubscriberClient()
    topic_path = publisher.topic_path(project, topic)
    subscription_path = subscriber.subscription_path(project, SUBSCRIPTION_ID)
    with contextlib.suppress(AlreadyExists):
        publisher.create_topic(request={"name": topic_path})
    with contextlib.suppress(AlreadyExists):
        subscriber.create_subscription(request={
            "name": subscription_path,
            "topic": topic_path,
            "push_config": {"push_endpoint": push_endpoint},
            "ack_deadline_seconds": ACK_DEADLINE_SECONDS,
            "retry_policy": {"minimum_backoff": {"seconds": 1}, "maximum_backoff": {"seconds": 10}},
        })
    subscriber.close()
    return subscription_path
