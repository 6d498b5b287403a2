"""A local stand-in for ml-callback that records what workers report.

It checks the shared secret like ml-callback does, can answer 503 a number of times first
so tests see the client's retries, and can hold requests unanswered (a slow ml-callback: its
lock, its aggregate, the Cloud Run Jobs API) until the test releases them.
"""

from __future__ import annotations

import threading
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
        self.held = 0                                # requests that arrived while held
        self._open = threading.Event()
        self._open.set()
        self.url = ""
        self._changed = threading.Condition()
        self.app = flask.Flask("ml-callback-stand-in")
        self.app.add_url_rule("/", "callback", self._callback, methods=["POST"])

    def hold(self) -> None:
        """Leave every request unanswered from now until :meth:`release`."""
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    def _callback(self) -> tuple[dict, int]:
        if not self._open.is_set():
            with self._changed:
                self.held += 1
                self._changed.notify_all()
            self._open.wait()
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
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.received) >= count, timeout):
                raise AssertionError(f"expected {count} callbacks, got {len(self.received)}: {self.received}")
            return list(self.received)

    def wait_held(self, count: int, timeout: float = 30.0) -> None:
        """Wait until ``count`` requests are being held."""
        with self._changed:
            if not self._changed.wait_for(lambda: self.held >= count, timeout):
                raise AssertionError(f"expected {count} held callbacks, got {self.held}")


@pytest.fixture
def callback_recorder(monkeypatch: pytest.MonkeyPatch) -> Iterator[CallbackRecorder]:
    """A running recorder, with CALLBACK_URL and CALLBACK_SECRET pointing at it."""
    recorder = CallbackRecorder()
    with serve_wsgi(recorder.app) as url:
        recorder.url = url + "/"
        monkeypatch.setenv("CALLBACK_URL", recorder.url)
        monkeypatch.setenv("CALLBACK_SECRET", CALLBACK_SECRET)
        try:
            yield recorder
        finally:
            recorder.release()   # before the server stops: it waits for its request threads
