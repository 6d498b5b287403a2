"""Unwrap a Pub/Sub push delivery, in either form Cloud Run may receive it.

* The push envelope of a push subscription::

      {"message": {"data": "<base64>", "attributes": {...}, "messageId": "...", "publishTime": "..."},
       "subscription": "projects/.../subscriptions/...", "deliveryAttempt": 3}

* A CloudEvent of type ``google.cloud.pubsub.topic.v1.messagePublished`` (Eventarc): in
  structured mode the envelope above is the event's ``data``; in binary mode it is the body
  and the event attributes come as ``ce-*`` headers.

Anything else is an :class:`EnvelopeError` naming what is wrong (answered with a 400).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

PUBSUB_CLOUDEVENT_TYPE = "google.cloud.pubsub.topic.v1.messagePublished"


class EnvelopeError(ValueError):
    """The request is not a Pub/Sub push delivery; the text says what is missing or wrong."""


@dataclass(frozen=True)
class PubsubMessage:
    """One delivered message, whichever envelope carried it."""

    data: bytes
    attributes: dict[str, str] = field(default_factory=dict)
    message_id: str | None = None
    publish_time: datetime | None = None
    subscription: str | None = None
    delivery_attempt: int | None = None    # only set when the subscription has a dead-letter policy


def parse_push_request(body: Any, headers: Mapping[str, str]) -> PubsubMessage:
    """The message of a push request, given its parsed JSON body and its headers."""
    if not isinstance(body, dict):
        raise EnvelopeError("request body must be a JSON object (a Pub/Sub push envelope or a CloudEvent)")
    event_type = headers.get("ce-type")                 # binary-mode CloudEvent
    if "specversion" in body:                           # structured-mode CloudEvent
        event_type = body.get("type")
        body = body.get("data")
        if not isinstance(body, dict):
            raise EnvelopeError("CloudEvent data must be a JSON object with a Pub/Sub message")
    if event_type is not None and event_type != PUBSUB_CLOUDEVENT_TYPE:
        raise EnvelopeError(f"CloudEvent type {event_type!r} is not {PUBSUB_CLOUDEVENT_TYPE}")
    return _parse_envelope(body)


def _parse_envelope(envelope: dict[str, Any]) -> PubsubMessage:
    message = envelope.get("message")
    if not isinstance(message, dict):
        raise EnvelopeError("no Pub/Sub message received: the body has no 'message' object")
    attributes = message.get("attributes") or {}
    if not isinstance(attributes, dict) or not all(isinstance(v, str) for v in attributes.values()):
        raise EnvelopeError("message.attributes must be an object of strings")
    attempt = envelope.get("deliveryAttempt")
    return PubsubMessage(
        data=_decode_data(message.get("data")),
        attributes=attributes,
        message_id=message.get("messageId") or message.get("message_id"),
        publish_time=_parse_time(message.get("publishTime") or message.get("publish_time")),
        subscription=envelope.get("subscription"),
        delivery_attempt=attempt if type(attempt) is int else None,   # not a bool
    )


def _decode_data(data: Any) -> bytes:
    if data is None:  # Pub/Sub leaves out empty data (storage notifications with payload NONE)
        return b""
    if not isinstance(data, str):
        raise EnvelopeError("message.data must be a base64 string")
    try:
        return base64.b64decode(data, validate=True)
    except binascii.Error as exc:
        raise EnvelopeError(f"message.data is not valid base64: {exc}") from None


_FRACTION = re.compile(r"(\.\d{6})\d+")


def _parse_time(value: Any) -> datetime | None:
    """RFC 3339 as Pub/Sub writes it (up to nanoseconds, ``Z``); None when absent or unreadable."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(_FRACTION.sub(r"\1", value).replace("Z", "+00:00"))
    except ValueError:
        return None
