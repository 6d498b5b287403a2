"""The detection message: one image to analyse, as published by ml-enqueue and read by the
detection service. Defined once here so publisher and consumer cannot drift apart.

Wire form (the Pub/Sub message ``data``, UTF-8 JSON)::

    {"version": 1, "job_id": "<uuid>", "event_id": "<uuid>", "media_id": "<uuid>",
     "image": "<location>", "model": "yunet-reid256"}

``image`` says where the bytes are: ``storage://<bucket>/<path>`` (Supabase Storage; the
worker signs a short-lived URL right before fetching, so a message that waited in the queue
never carries an expired URL), ``gs://<bucket>/<object>``, an ``https://`` URL (already
signed), or ``file:///...`` (local development).

A message that does not match is a :class:`MessageError` whose text names the field; the
service answers it with a 4xx that Pub/Sub does not retry forever (it dead-letters).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass
from typing import Any

SCHEMA_VERSION = 1
IMAGE_SCHEMES = ("storage://", "gs://", "https://", "http://", "file://")


class MessageError(ValueError):
    """The message is malformed; the text says which field and why (a permanent error)."""


@dataclass(frozen=True)
class DetectMessage:
    job_id: uuid.UUID
    event_id: uuid.UUID
    media_id: uuid.UUID
    image: str
    model: str
    version: int = SCHEMA_VERSION

    def to_bytes(self) -> bytes:
        payload = {k: str(v) if isinstance(v, uuid.UUID) else v for k, v in asdict(self).items()}
        return json.dumps(payload, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> DetectMessage:
        try:
            payload = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise MessageError(f"message data is not JSON: {exc}") from None
        return cls.from_dict(payload)

    @classmethod
    def from_dict(cls, payload: Any) -> DetectMessage:
        if not isinstance(payload, dict):
            raise MessageError("message data must be a JSON object")
        version = payload.get("version", SCHEMA_VERSION)
        if version != SCHEMA_VERSION:
            raise MessageError(f"version: unsupported message version {version!r} (expected {SCHEMA_VERSION})")
        unknown = set(payload) - {"version", "job_id", "event_id", "media_id", "image", "model"}
        if unknown:
            raise MessageError(f"unknown field(s): {', '.join(sorted(unknown))}")
        image = _required_str(payload, "image")
        if not image.startswith(IMAGE_SCHEMES):
            raise MessageError(
                f"image: unsupported location {image[:60]!r} (expected one of {', '.join(IMAGE_SCHEMES)})")
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
