"""A local stand-in for ml-callback that records what workers report.

It checks the shared secret like ml-callback does, and can answer 503 a number of times first
so tests see the client's retries.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import flask
import pytest

from tests.support.loopback import serve_wsgi

CALLBACK_SECRET = "stand-in-callback-secret"


class CallbackRecorder:
    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []     # accepted bodies, in arrival order
        self.refused = 0                             # requests answered 401 or 503
        self.fail_next = 0                           # answer this many requests 503 first
        self.url = ""
        self._changed = threading.Condition()
        self.app = flask.Flask("ml-callback-stand-in")
        self.app.add_url_rule("/", "callback", self._callback, methods=["POST"])

    def _callback(self) -> tuple[dict, int]:
        with self._changed:
            if flask.request.headers.get("Authorization") != f"Bearer {CALLBACK_SECRET}":
                self.refused += 1
                return {"error": "wrong secret"}, 401
            if self.fail_next > 0:
                self.fail_next -= 1
                self.refused += 1
                return {"error": "temporarily unavailable"}, 503
            self.received.append(flask.request.get_json())
            self._changed.notify_all()
        return {"ok": True}, 200

    def wait_for(self, count: int, timeout: float = 30.0) -> list[dict[str, Any]]:
        """The first ``count`` accepted callbacks, waiting up to ``timeout`` for them."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.received) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"expected {count} callbacks, got {len(self.received)}: {self.received}")
                self._changed.wait(remaining)
            return list(self.received)


@pytest.fixture
def callback_recorder(monkeypatch: pytest.MonkeyPatch) -> Iterator[CallbackRecorder]:
    """A running recorder, with CALLBACK_URL and CALLBACK_SECRET pointing at it."""
    recorder = CallbackRecorder()
    with serve_wsgi(recorder.app) as url:
        recorder.url = url + "/"
        monkeypatch.setenv("CALLBACK_URL", recorder.url)
        monkeypatch.setenv("CALLBACK_SECRET", CALLBACK_SECRET)
        yield recorder
