"""Fetch image bytes over HTTP(S): a timeout, a size limit, and storage errors told apart.

Storage services answer problems in many shapes: a 404, a 400 with an XML ``ExpiredToken``
document (GCS, S3), a 400 with a JSON body whose ``statusCode`` says ``"404"`` (Supabase
Storage), or sometimes an HTML error page with status 200 from a proxy. All of these must
become a clear permanent :class:`ImageFetchError` here instead of bytes that crash the image
decoder later; only 408/429/5xx and network failures are transient.

Error texts name the status and the rule, never what the body said: they end up in
``ml_jobs.error`` (readable by the event's members) and in the push response, and a body can
be anything the URL's server chose to return. Redirects are refused (rule ``redirect``): a
redirect could lead anywhere the rules of :mod:`shared.storage.policy` would not.
"""

from __future__ import annotations

import threading
import time

import requests

from shared.settings import Settings
from shared.storage.errors import ImageFetchError, ImageNotFoundError, StorageUnavailableError, too_large
from shared.storage.policy import LocationRefused
from shared.untrusted_json import loads_untrusted

CHUNK_BYTES = 256 * 1024
# Content types a storage service uses for error documents, never for photos.
ERROR_BODY_TYPES = ("text/html", "text/xml", "application/xml", "application/json", "text/plain")
# What error documents start with, whatever Content-Type claims.
ERROR_BODY_MARKERS = (b"<?xml", b"<!doctype", b"<html", b"<error", b'{"statuscode"', b'{"error"', b'{"message"')

_local = threading.local()


def session() -> requests.Session:
    """One session per thread for the configured storage endpoint (``SUPABASE_URL``).

    Connections are reused, and sessions are not shared across threads. URLs from media rows
    never go through it: they use :func:`shared.storage.guarded_http.guarded_session`.
    """
    if not hasattr(_local, "session"):
        _local.session = requests.Session()
    return _local.session


def redact(url: str) -> str:
    """The URL without its query string: signed URLs carry their token there, logs must not."""
    return url.split("?", 1)[0]


def fetch_url(url: str, settings: Settings, via: requests.Session) -> bytes:
    """GET ``url`` through ``via`` and return the body, which must look like an image and fit ``MAX_IMAGE_BYTES``."""
    shown = redact(url)
    deadline = time.monotonic() + settings.fetch_timeout_seconds
    try:
        response = via.get(url, stream=True, timeout=settings.fetch_timeout_seconds, allow_redirects=False)
    except requests.RequestException as exc:
        raise StorageUnavailableError(f"cannot fetch {shown}: {type(exc).__name__}") from exc
    with response:
        if response.is_redirect or 300 <= response.status_code < 400:
            raise LocationRefused("redirect", f"{shown} answered a redirect (HTTP {response.status_code}); "
                                              "redirects are not followed")
        raise_for_storage_status(response, shown)
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type.startswith(ERROR_BODY_TYPES):
            raise ImageFetchError("error_body", f"{shown} answered {content_type[:60]!r} instead of an image")
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > settings.max_image_bytes:
            raise too_large(shown, int(declared), settings.max_image_bytes)
        body = _read_limited(response, shown, settings, deadline)
    if looks_like_error_document(body):
        raise ImageFetchError("error_body", f"{shown} answered an error document instead of an image")
    return body


def _read_limited(response: requests.Response, shown: str, settings: Settings, deadline: float) -> bytes:
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_content(CHUNK_BYTES):
            size += len(chunk)
            if size > settings.max_image_bytes:
                raise too_large(shown, size, settings.max_image_bytes)
            if time.monotonic() > deadline:
                raise StorageUnavailableError(
                    f"fetching {shown} took longer than FETCH_TIMEOUT_SECONDS={settings.fetch_timeout_seconds}")
            chunks.append(chunk)
    except requests.RequestException as exc:
        raise StorageUnavailableError(f"download of {shown} broke off: {type(exc).__name__}") from exc
    return b"".join(chunks)


def looks_like_error_document(body: bytes) -> bool:
    """An XML/HTML/JSON error document (an SVG is a picture, left for the decoder to refuse)."""
    return body.lstrip()[:16].lower().startswith(ERROR_BODY_MARKERS) and b"<svg" not in body[:1024]


def raise_for_storage_status(response: requests.Response, shown: str) -> None:
    """Turn an error answer into the matching storage error (status only, never the body); 2xx/3xx pass."""
    if response.status_code < 400:
        return
    status = reported_status(body_head(response), response.status_code)
    detail = f"HTTP {response.status_code}" + (f", reported {status}" if status != response.status_code else "")
    if status in (404, 410):
        raise ImageNotFoundError(f"{shown}: no such object ({detail})")
    if status in (408, 429) or status >= 500:
        raise StorageUnavailableError(f"{shown}: storage unavailable ({detail})")
    raise ImageFetchError("refused", f"{shown}: storage refused the request, e.g. an expired or invalid "
                                     f"signed URL ({detail})")


def body_head(response: requests.Response, limit: int = 4096) -> bytes:
    """The first bytes of a (possibly streamed) body, without reading a large body to its end."""
    try:
        return next(response.iter_content(limit), b"")
    except requests.RequestException:
        return b""


def reported_status(head: bytes, http_status: int) -> int:
    """The status the body reports, when it has one: Supabase Storage answers a missing object
    with HTTP 400 and ``{"statusCode": "404", ...}``."""
    try:
        return int(loads_untrusted(head)["statusCode"])
    except (ValueError, KeyError, TypeError, OverflowError):   # UntrustedJsonError is a ValueError
        return http_status

