"""The in-process stand-in for the Pub/Sub emulator: the real publisher in, Pub/Sub push bodies out."""

from __future__ import annotations

import base64
import threading
import time
import uuid
from typing import Any

import pytest
from werkzeug.wrappers import Request, Response

from localdev.stack.push_relay import PushRelay
from shared.pipeline.messages import DetectMessage
from shared.pipeline.publisher import DetectPublisher
from shared.settings import Settings
from tests.support.loopback import serve_wsgi


class FlakyPushEndpoint:
    """Answers 503 to the first delivery of each message and 204 after, recording every body."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.acked: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        body = Request(environ).get_json()
        with self._lock:
            self.bodies.append(body)
            message_id = body["message"]["messageId"]
            seen = sum(b["message"]["messageId"] == message_id for b in self.bodies)
            if seen > 1:
                self.acked.add(message_id)
        return Response(status=204 if seen > 1 else 503)(environ, start_response)


def test_relay_pushes_published_messages_and_retries_until_acknowledged(monkeypatch: pytest.MonkeyPatch) -> None:
    endpoint = FlakyPushEndpoint()
    messages = [DetectMessage(job_id=uuid.uuid4(), event_id=uuid.uuid4(), media_id=uuid.uuid4(),
                              image=f"file:///photos/{i}.jpg", model="yunet-dlib") for i in range(3)]
    with serve_wsgi(endpoint) as url:
        relay = PushRelay(url + "/", "demo-project", "ml-detect")
        relay.start()
        try:
            monkeypatch.setenv("PUBSUB_EMULATOR_HOST", relay.host)
            settings = Settings.from_env({"GOOGLE_CLOUD_PROJECT": "demo-project", "PUBSUB_TOPIC": "ml-detect"})
            report = DetectPublisher(settings).publish(messages)
            assert report.failed == {} and len(report.published) == 3
            deadline = time.monotonic() + 30
            while len(endpoint.acked) < 3 and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            relay.stop()
    assert len(endpoint.acked) == 3
    delivered = {}
    for body in endpoint.bodies:
        assert body["subscription"] == "projects/demo-project/subscriptions/ml-detect-push"
        assert set(body["message"]) == {"data", "attributes", "messageId", "publishTime"}
        message = DetectMessage.from_bytes(base64.b64decode(body["message"]["data"]))
        assert body["message"]["attributes"] == {"event_id": str(message.event_id), "media_id": str(message.media_id)}
        delivered[message.job_id] = message
    assert delivered == {message.job_id: message for message in messages}
    assert len(endpoint.bodies) == 6, "each message: one refused delivery, then one acknowledged"
