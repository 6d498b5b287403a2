"""Structured JSON logging that Cloud Logging parses, with job and media ids on every line.

Cloud Run forwards stdout lines that are JSON objects to Cloud Logging, which reads
``severity`` and ``message`` and keeps the other keys as ``jsonPayload``. Request and job
context (``job_id``, ``media_id``, ``event_id``, ...) is bound once with :func:`log_context`
and then appears on every line logged inside it, so one can filter a job's whole history.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import sys
import time
from collections.abc import Iterator
from typing import Any

_context: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("log_context", default={})  # noqa: B039


class JsonFormatter(logging.Formatter):
    """One JSON object per line: severity, message, logger, time, bound context, extras."""

    _RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "severity": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
        }
        entry.update(_context.get())
        entry.update({k: v for k, v in vars(record).items() if k not in self._RESERVED})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: str = "INFO") -> None:
    """Send JSON lines to stdout; called once by each entry point."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # pgserver narrates every pg_ctl call at INFO; only its problems are worth a log line.
    logging.getLogger("pgserver").setLevel(logging.WARNING)


@contextlib.contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Bind fields (``job_id=..., media_id=...``) to every log line inside the block."""
    token = _context.set({**_context.get(), **{k: str(v) for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)
