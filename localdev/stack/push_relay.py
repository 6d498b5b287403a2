"""A stand-in for the Pub/Sub emulator when it is not installed: the same push bodies, in-process.

It answers the gRPC calls a publisher makes (``CreateTopic``, ``GetTopic``, ``Publish``) on a
loopback port, so ``ml-enqueue`` publishes through the real client library exactly as against
the emulator (``PUBSUB_EMULATOR_HOST``); each message is then POSTed to the push endpoint in
the envelope Pub/Sub push uses, and retried with backoff while the endpoint answers non-2xx,
as Pub/Sub does.
"""

from __future__ import annotations

import base64
import itertools
import logging
import queue
import threading
import time
from concurrent import futures
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import grpc
import requests
from google.pubsub_v1.types import GetTopicRequest, PublishRequest, PublishResponse, Topic

from localdev.stack.pubsub_emulator import SUBSCRIPTION_ID

logger = logging.getLogger(__name__)

PUSH_SUCCESS = {102, 200, 201, 202, 204}   # what Pub/Sub push counts as an acknowledgement
MAX_ATTEMPTS = 20
PUSH_WORKERS = 4


@dataclass(frozen=True)
class _Pending:
    body: dict[str, Any]
    attempt: int
    not_before: float


class PushRelay:
    """Receives publishes over gRPC and delivers them by HTTP push; :meth:`stop` ends both."""

    def __init__(self, push_endpoint: str, project: str, topic: str) -> None:
        self.push_endpoint = push_endpoint
        self.subscription = f"projects/{project}/subscriptions/{SUBSCRIPTION_ID}"  # as the emulator's
        self._ids = itertools.count(1)
        self._queue: queue.Queue[_Pending | None] = queue.Queue()
        self._stopping = threading.Event()
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        self._server.add_generic_rpc_handlers((self._handlers(),))
        self.port = self._server.add_insecure_port("127.0.0.1:0")
        self._workers = [threading.Thread(target=self._deliver_loop, name=f"push-relay-{i}", daemon=True)
                         for i in range(PUSH_WORKERS)]

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _handlers(self) -> grpc.GenericRpcHandler:
        def topic(request: Topic, context: grpc.ServicerContext) -> Topic:
            return Topic(name=request.name)

        def get_topic(request: Any, context: grpc.ServicerContext) -> Topic:
            return Topic(name=request.topic)

        def publish(request: PublishRequest, context: grpc.ServicerContext) -> PublishResponse:
            ids = []
            for message in request.messages:
                message_id = str(next(self._ids))
                ids.append(message_id)
                self._queue.put(_Pending(self._envelope(message, message_id), 1, 0.0))
            return PublishResponse(message_ids=ids)

        unary = grpc.unary_unary_rpc_method_handler
        return grpc.method_handlers_generic_handler("google.pubsub.v1.Publisher", {
            "CreateTopic": unary(topic, request_deserializer=Topic.deserialize, response_serializer=Topic.serialize),
            "GetTopic": unary(get_topic, request_deserializer=GetTopicRequest.deserialize,
                              response_serializer=Topic.serialize),
            "Publish": unary(publish, request_deserializer=PublishRequest.deserialize,
                             response_serializer=PublishResponse.serialize),
        })

    def _envelope(self, message: Any, message_id: str) -> dict[str, Any]:
        return {
            "message": {
                "data": base64.b64encode(message.data).decode(),
                "attributes": dict(message.attributes),
                "messageId": message_id,
                "publishTime": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            },
            "subscription": self.subscription,
        }

    def start(self) -> None:
        self._server.start()
        for worker in self._workers:
            worker.start()

    def _deliver_loop(self) -> None:
        while not self._stopping.is_set():
            pending = self._queue.get()
            if pending is None:
                return
            delay = pending.not_before - time.monotonic()
            if delay > 0 and self._stopping.wait(delay):
                return
            if not self._push(pending.body) and not self._stopping.is_set():
                if pending.attempt >= MAX_ATTEMPTS:
                    logger.error("push undeliverable; dropped",
                                 extra={"message_id": pending.body["message"]["messageId"]})
                    continue
                backoff = min(10.0, 2.0 ** (pending.attempt - 1))
                self._queue.put(_Pending(pending.body, pending.attempt + 1, time.monotonic() + backoff))

    def _push(self, body: dict[str, Any]) -> bool:
        try:
            response = requests.post(self.push_endpoint, json=body, timeout=600)
        except requests.RequestException as exc:
            logger.warning("push failed; will retry", extra={"problem": str(exc)})
            return False
        return response.status_code in PUSH_SUCCESS

    def stop(self) -> None:
        self._stopping.set()
        for _ in self._workers:
            self._queue.put(None)
        self._server.stop(grace=1).wait()
        for worker in self._workers:
            worker.join(timeout=5)
