"""The detection message: one image to analyse, as published by ml-enqueue and read by the
detection service. Defined once here so publisher and consumer cannot drift apart.

Wire form (the Pub/Sub message ``data``, UTF-8 JSON)::

    {"version": 1, "job_id": "<uuid>", "event_id": "<uuid>", "media_id": "<uuid>",
     "image": "<location>", "model": "yunet-reid256"}

``image`` is informational: where the publisher saw the bytes (``storage://<bucket>/<path>``,
``gs://...``, ``https://...``, ``file://...``). The worker never fetches it: it reads the image
location from the job's media row and checks it against its rules (:mod:`shared.storage.policy`),
so whoever can publish to the topic cannot point the worker at a URL or a file. Comparing it
with the row instead would add no protection (it grants nothing) and would dead-letter a
legitimate message whose media was moved between enqueue and delivery. It stays in the wire
form because workers of the previous release read it during a rolling update.

A message that does not match is a :class:`MessageError` whose text names the field; the
service answers it with a 4xx that Pub/Sub does not retry forever (it dead-letters).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass
from typing import Any

from shared.untrusted_json import UntrustedJsonError, loads_untrusted

SCHEMA_VERSION = 1


class MessageError(ValueError):
    """The message is malformed; the text says which field and why (a permanent error)."""


@dataclass(frozen=True)
class DetectMessage:
    job_id: uuid.UUID
    event_id: uuid.UUID
    media_id: uuid.UUID
    image: str | None
    model: str
    version: int = SCHEMA_VERSION

    def to_bytes(self) -> bytes:
        payload = {k: str(v) if isinstance(v, uuid.UUID) else v for k, v in asdict(self).items()}
        return json.dumps(payload, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> DetectMessage:
        try:
            payload = loads_untrusted(data, field="data")
        except UntrustedJsonError as exc:
            field = exc.field if exc.field != "data" else "message data"
            raise MessageError(f"{field}: {exc.message}") from None
        return cls.from_dict(payload)

    @classmethod
    def from_dict(cls, payload: Any) -> DetectMessage:
        if not isinstance(payload, dict):
            raise MessageError("message data must be a JSON object")
        version = payload.get("version", SCHEMA_VERSION)
        if type(version) is not int or version != SCHEMA_VERSION:  # true == 1 and 1.0 == 1 in Python
            raise MessageError(f"version: unsupported message version {version!r} (expected {SCHEMA_VERSION})")
        unknown = set(payload) - {"version", "job_id", "event_id", "media_id", "image", "model"}
        if unknown:
            raise MessageError(f"unknown field(s): {', '.join(sorted(unknown))}")
        image = payload.get("image")
        if image is not None and not isinstance(image, str):
            raise MessageError("image: expected a string (informational; the worker reads the media row)")
        return cls(
            job_id=_required_uuid(payload, "job_id"),
            event_id=_required_uuid(payload, "event_id"),
            media_id=_required_uuid(payload, "media_id"),
            image=image,
            model=_required_str(payload, "model"),
        )


def _required_str(payload: dict[str, Any], name: str) -> str:
    value = payload.get(name)
    if not isinstance(value, str) or not value.strip():
        raise MessageError(f"{name}: required non-empty string")
    return value


def _required_uuid(payload: dict[str, Any], name: str) -> uuid.UUID:
    try:
        return uuid.UUID(_required_str(payload, name))
    except ValueError:
        raise MessageError(f"{name}: not a UUID: {payload.get(name)!r}") from None
