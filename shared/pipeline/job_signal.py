"""Signal ``ml-callback`` that a job finished: the app's signal, never holding up a Pub/Sub ack.

The database is the source of truth: a job's outcome is committed before it is signalled, and
ml-callback recomputes everything it decides from the database. A signal only makes the
follow-up work (starting clustering) happen sooner; a lost one delays it until the next signal
of the event or the sweep (Cloud Scheduler POSTs ``{"type": "sweep"}`` to ml-callback every
``sweeper_schedule``, infra/terraform/sweeper.tf), which re-evaluates every event with pending
work. So signals are retried, but never at the price of the work they announce.

Two ways to send:

* :func:`send_callback` posts and retries in the caller's thread: the clustering job, a
  process that exits when it returns.
* :func:`signal_in_background` queues the signal for one daemon thread per process and returns
  at once: the detection service, whose push request would otherwise wait, before Pub/Sub gets
  its ack, for ml-callback to take the event's lock, run the clustering rule's aggregate and
  maybe call the Cloud Run Jobs API, and through retries with backoff when ml-callback is
  slow or down. The queue is bounded (:data:`QUEUE_CAPACITY`): a signal that does not fit, or
  is still queued when the process exits, is dropped with a log line, and the sweep recovers it.
  On Cloud Run the thread only gets CPU after the response with instance-based billing
  (``cpu_idle = false``, infra/terraform/detection.tf says why the detection service has it).

Wire contract: ``POST CALLBACK_URL`` with ``Authorization: Bearer <CALLBACK_SECRET>`` and a
JSON body ``{"job_id", "job_type", "event_id", "media_id", "status", "result", "error"}``.
"""

from __future__ import annotations

import atexit
import contextvars
import logging
import queue
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from typing import Any

import requests

from shared.settings import Settings

logger = logging.getLogger(__name__)

QUEUE_CAPACITY = 1000   # signals waiting per process; ~1 KB each. Fills only while ml-callback is down or slow.

# One keep-alive session per process: a new TLS connection per image would cost more than the
# callback itself. requests' Session is safe for the concurrent posts made here.
_session = requests.Session()


@dataclass(frozen=True)
class JobOutcome:
    job_id: uuid.UUID | None
    job_type: str                 # "detect" | "cluster"
    event_id: uuid.UUID
    status: str                   # "completed" | "failed"
    media_id: uuid.UUID | None = None
    result: dict[str, Any] | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: str(v) if isinstance(v, uuid.UUID) else v for k, v in asdict(self).items()}


def send_callback(settings: Settings, outcome: JobOutcome, *, attempts: int = 4, first_delay: float = 0.5,
                  timeout: float = 10.0, stopping: threading.Event | None = None) -> bool:
    """POST the outcome; retry network errors, 429 and 5xx with exponential backoff.

    Returns whether ml-callback accepted it. A 4xx (e.g. 401 for a wrong secret) is not
    retried: repeating it cannot succeed, and the log line says what to fix. ``stopping`` cuts
    the backoff short when the process shuts down (the signal is then given up).
    """
    if not settings.callback_url:
        logger.info("CALLBACK_URL unset: no callback sent", extra={"job_id": str(outcome.job_id)})
        return False
    headers = {"Authorization": f"Bearer {settings.callback_secret or ''}"}
    delay = first_delay
    for attempt in range(1, attempts + 1):
        try:
            response = _session.post(settings.callback_url, json=outcome.to_json(), headers=headers, timeout=timeout)
        except requests.RequestException as exc:
            problem = f"{type(exc).__name__}: {exc}"
        else:
            if response.status_code < 400:
                return True
            problem = f"HTTP {response.status_code}: {response.text[:200]}"
            if response.status_code < 500 and response.status_code != 429:
                logger.error("ml-callback refused the callback", extra={"problem": problem})
                return False
        if attempt < attempts and not _backoff(delay, stopping):
            logger.warning("shutting down: callback given up; the outcome is in ml_jobs and the sweep picks it up",
                           extra={"problem": problem})
            return False
        delay *= 2
    logger.warning("ml-callback unreachable; the outcome is in ml_jobs and will be picked up later",
                   extra={"problem": problem, "attempts": attempts})
    return False


def _backoff(delay: float, stopping: threading.Event | None) -> bool:
    """Wait ``delay`` seconds before the next attempt; False when ``stopping`` was set meanwhile."""
    if stopping is None:
        time.sleep(delay)
        return True
    return not stopping.wait(delay)


class BackgroundSignals:
    """A bounded queue of signals and the one daemon thread that sends them, in order, with retries.

    Each signal keeps the logging context of the request that queued it (its job, media and
    event ids), so the lines the thread logs about it are found with the job's other lines.
    """

    def __init__(self, capacity: int = QUEUE_CAPACITY) -> None:
        self._queue: queue.Queue[tuple[contextvars.Context, Settings, JobOutcome]] = queue.Queue(capacity)
        self._stopping = threading.Event()
        self._pending = 0                       # queued or being sent
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    def submit(self, settings: Settings, outcome: JobOutcome) -> bool:
        """Queue the signal and return at once; False when it was dropped (queue full, shutting down)."""
        if not settings.callback_url:
            logger.info("CALLBACK_URL unset: no callback sent")
            return False
        with self._changed:
            if self._stopping.is_set():
                logger.warning("shutting down: callback dropped; the sweep picks the outcome up")
                return False
            try:
                self._queue.put_nowait((contextvars.copy_context(), settings, outcome))
            except queue.Full:
                logger.warning("callback queue full (%d): callback dropped; the sweep picks the outcome up",
                               self._queue.maxsize)
                return False
            self._pending += 1
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._send_forever, name="ml-callback-signals", daemon=True)
                self._thread.start()
        return True

    def wait_idle(self, timeout: float) -> bool:
        """Whether every queued signal was sent or given up within ``timeout`` seconds."""
        with self._changed:
            return self._changed.wait_for(lambda: self._pending == 0, timeout)

    def stop(self) -> int:
        """Stop sending (the signal in flight gives up its retries); drop and count what is still queued."""
        with self._changed:
            self._stopping.set()
            dropped = 0
            while True:
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    break
                dropped += 1
            self._pending -= dropped
            self._changed.notify_all()
        if dropped:
            logger.warning("shutting down: %d queued callbacks dropped; the sweep picks their outcomes up", dropped)
        return dropped

    def _send_forever(self) -> None:
        while True:
            context, settings, outcome = self._queue.get()
            try:
                context.run(send_callback, settings, outcome, stopping=self._stopping)
            except Exception:   # a bug here must not end the thread: later signals still go out
                logger.exception("sending a callback failed unexpectedly")
            finally:
                with self._changed:
                    self._pending -= 1
                    self._changed.notify_all()


_background: BackgroundSignals | None = None
_background_lock = threading.Lock()


def background_signals() -> BackgroundSignals:
    """This process's sender, created on first use and stopped at exit."""
    global _background
    with _background_lock:
        if _background is None:
            _background = BackgroundSignals()
            atexit.register(_background.stop)
        return _background


def signal_in_background(settings: Settings, outcome: JobOutcome) -> None:
    """Queue a signal for this process's sender thread; see the module docstring."""
    background_signals().submit(settings, outcome)
