"""Signal ``ml-callback`` that a job finished, with retries, never losing data.

The database is the source of truth: a job's outcome is committed before the callback is
sent, and ml-callback can recompute everything it decides from the database. So a callback
that still fails after its retries is logged and dropped — it delays follow-up work (e.g.
starting clustering) until the next callback or sweep, it never loses results.

Wire contract: ``POST CALLBACK_URL`` with ``Authorization: Bearer <CALLBACK_SECRET>`` and a
JSON body ``{"job_id", "job_type", "event_id", "media_id", "status", "result", "error"}``.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import asdict, dataclass
from typing import Any

import requests

from shared.settings import Settings

logger = logging.getLogger(__name__)

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


def send_callback(settings: Settings, outcome: JobOutcome, *, attempts: int = 4,
                  first_delay: float = 0.5, timeout: float = 10.0) -> bool:
    """POST the outcome; retry network errors and 5xx with exponential backoff.

    Returns whether ml-callback accepted it. A 4xx (e.g. 401 for a wrong secret) is not
    retried: repeating it cannot succeed, and the log line says what to fix.
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
        if attempt < attempts:
            time.sleep(delay)
            delay *= 2
    logger.warning("ml-callback unreachable; the outcome is in ml_jobs and will be picked up later",
                   extra={"problem": problem, "attempts": attempts})
    return False
