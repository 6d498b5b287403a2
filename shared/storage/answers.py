"""Whether a storage service's answer carries image bytes, whichever HTTP library brought it.

Storage services answer problems in many shapes: a 404, a 400 with an XML ``ExpiredToken``
document (GCS, S3), a 400 with a JSON body whose ``statusCode`` says ``"404"`` (Supabase
Storage), or sometimes an HTML error page with status 200 from a proxy. All of these must
become a clear permanent :class:`ImageFetchError` here instead of bytes that crash the image
decoder later; only 408/429/5xx and network failures are transient.

Error texts name the status and the rule, never what the body said: they end up in
``ml_jobs.error`` (readable by the event's members) and in the push response, and a body can
be anything the URL's server chose to return. Redirects are refused (rule ``redirect``): a
redirect could lead anywhere the rules of :mod:`shared.storage.policy` would not.

Two HTTP libraries read answers: ``requests`` for https locations (:mod:`shared.storage.http`)
and the ``httpx`` client under storage3 for Supabase Storage (:mod:`shared.storage.supabase`).
Both apply these checks before the body is read and while it is read, so the rules are written once.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import NoReturn

from shared.settings import Settings
from shared.storage.errors import ImageFetchError, ImageNotFoundError, StorageUnavailableError, too_large
from shared.storage.policy import LocationRefused
from shared.untrusted_json import loads_untrusted

CHUNK_BYTES = 256 * 1024
ERROR_HEAD_BYTES = 4096
# Content types a storage service uses for error documents, never for photos.
ERROR_BODY_TYPES = ("text/html", "text/xml", "application/xml", "application/json", "text/plain")
# What error documents start with, whatever Content-Type claims.
ERROR_BODY_MARKERS = (b"<?xml", b"<!doctype", b"<html", b"<error", b'{"statuscode"', b'{"error"', b'{"message"')


@dataclass(frozen=True)
class FetchLimits:
    """``MAX_IMAGE_BYTES`` and ``FETCH_TIMEOUT_SECONDS`` (per socket operation and for the whole download)."""

    max_bytes: int
    timeout_seconds: float

    @classmethod
    def of(cls, settings: Settings) -> FetchLimits:
        return cls(settings.max_image_bytes, settings.fetch_timeout_seconds)

    def deadline(self) -> float:
        """When a download that starts now must be done (``time.monotonic()`` clock)."""
        return time.monotonic() + self.timeout_seconds


def redact(url: str) -> str:
    """The URL without its query string: signed URLs carry their token there, logs must not."""
    return url.split("?", 1)[0]


def check_answer(status: int, headers: Mapping[str, str], error_head: bytes, shown: str, max_bytes: int) -> None:
    """Refuse, before its body is read, an answer that cannot be the image.

    A redirect, an error status (``error_head``, the body's start, may report another status, as
    Supabase Storage's do; ``b""`` for a success), an error document's content type, or a declared
    length over ``max_bytes``.
    """
    if 300 <= status < 400:
        raise LocationRefused("redirect", f"{shown} answered a redirect (HTTP {status}); redirects are not followed")
    if status >= 400:
        raise_for_error_status(status, error_head, shown)
    content_type = headers.get("Content-Type", "").split(";")[0].strip().lower()
    if content_type.startswith(ERROR_BODY_TYPES):
        raise ImageFetchError("error_body", f"{shown} answered {content_type[:60]!r} instead of an image")
    declared = headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise too_large(shown, int(declared), max_bytes)


def raise_for_error_status(status: int, error_head: bytes, shown: str) -> NoReturn:
    """The storage error matching an error answer (its status and the one it reports, never its body)."""
    reported = reported_status(error_head, status)
    detail = f"HTTP {status}" + (f", reported {reported}" if reported != status else "")
    if reported in (404, 410):
        raise ImageNotFoundError(f"{shown}: no such object ({detail})")
    if reported in (408, 429) or reported >= 500:
        raise StorageUnavailableError(f"{shown}: storage unavailable ({detail})")
    raise ImageFetchError("refused", f"{shown}: storage refused the request, e.g. an expired or invalid "
                                     f"signed URL ({detail})")


def reported_status(head: bytes, http_status: int) -> int:
    """The status the body reports, when it has one: Supabase Storage answers a missing object
    with HTTP 400 and ``{"statusCode": "404", ...}``."""
    try:
        return int(loads_untrusted(head)["statusCode"])
    except (ValueError, KeyError, TypeError, OverflowError):   # UntrustedJsonError is a ValueError
        return http_status


def within_limits(chunks: Iterable[bytes], shown: str, limits: FetchLimits, deadline: float) -> Iterator[bytes]:
    """``chunks`` as they arrive, until there are more than ``limits.max_bytes`` or ``deadline`` passed.

    A body without ``Content-Length`` (chunked) or with a false one is cut off here, so a huge
    object is never held whole; a server that trickles bytes cannot hold the worker past the deadline.
    """
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > limits.max_bytes:
            raise too_large(shown, size, limits.max_bytes)
        if time.monotonic() > deadline:
            raise StorageUnavailableError(
                f"fetching {shown} took longer than FETCH_TIMEOUT_SECONDS={limits.timeout_seconds}")
        yield chunk


def looks_like_error_document(body: bytes) -> bool:
    """An XML/HTML/JSON error document (an SVG is a picture, left for the decoder to refuse)."""
    return body.lstrip()[:16].lower().startswith(ERROR_BODY_MARKERS) and b"<svg" not in body[:1024]
