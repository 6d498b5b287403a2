"""Fetch image bytes over HTTP(S): a timeout, a size limit, and storage errors told apart.

Storage services answer problems in many shapes: a 404, a 400 with an XML ``ExpiredToken``
document (GCS, S3), a 400 with a JSON body whose ``statusCode`` says ``"404"`` (Supabase
Storage), or sometimes an HTML error page with status 200 from a proxy. All of these must
become a clear permanent :class:`ImageFetchError` here instead of bytes that crash the image
decoder later; only 408/429/5xx and network failures are transient.
"""

from __future__ import annotations

import json
import threading
import time

import requests

from shared.settings import Settings
from shared.storage.errors import ImageFetchError, ImageNotFoundError, StorageUnavailableError, too_large

CHUNK_BYTES = 256 * 1024
# Content types a storage service uses for error documents, never for photos.
ERROR_BODY_TYPES = ("text/html", "text/xml", "application/xml", "application/json", "text/plain")
# What error documents start with, whatever Content-Type claims.
ERROR_BODY_MARKERS = (b"<?xml", b"<!doctype", b"<html", b"<error", b'{"statuscode"', b'{"error"', b'{"message"')

_local = threading.local()


def session() -> requests.Session:
    """One session per thread: connections are reused, and sessions are not shared across threads."""
    if not hasattr(_local, "session"):
        _local.session = requests.Session()
    return _local.session


def redact(url: str) -> str:
    """The URL without its query string: signed URLs carry their token there, logs must not."""
    return url.split("?", 1)[0]


def fetch_url(url: str, settings: Settings) -> bytes:
    """GET ``url`` and return the body, which must look like an image and fit ``MAX_IMAGE_BYTES``."""
    shown = redact(url)
    deadline = time.monotonic() + settings.fetch_timeout_seconds
    try:
        response = session().get(url, stream=True, timeout=settings.fetch_timeout_seconds)
    except requests.RequestException as exc:
        raise StorageUnavailableError(f"cannot fetch {shown}: {type(exc).__name__}: {exc}") from exc
    with response:
        raise_for_storage_status(response, shown)
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type.startswith(ERROR_BODY_TYPES):
            raise ImageFetchError("error_body", f"{shown} answered {content_type} instead of an image: "
                                                f"{excerpt(body_head(response))}")
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > settings.max_image_bytes:
            raise too_large(shown, int(declared), settings.max_image_bytes)
        body = _read_limited(response, shown, settings, deadline)
    if looks_like_error_document(body):
        raise ImageFetchError("error_body", f"{shown} answered an error document instead of an image: "
                                            f"{body[:200].decode('utf-8', 'replace')!r}")
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
        raise StorageUnavailableError(f"download of {shown} broke off: {type(exc).__name__}: {exc}") from exc
    return b"".join(chunks)


def looks_like_error_document(body: bytes) -> bool:
    """An XML/HTML/JSON error document (an SVG is a picture, left for the decoder to refuse)."""
    return body.lstrip()[:16].lower().startswith(ERROR_BODY_MARKERS) and b"<svg" not in body[:1024]


def raise_for_storage_status(response: requests.Response, shown: str) -> None:
    """Turn an error answer into the matching storage error; 2xx/3xx pass."""
    if response.status_code < 400:
        return
    head = body_head(response)
    status = reported_status(head, response.status_code)
    detail = f"HTTP {response.status_code}: {excerpt(head)}"
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
        return int(json.loads(head)["statusCode"])
    except (ValueError, KeyError, TypeError):
        return http_status


def excerpt(head: bytes) -> str:
    """A short, single-line excerpt of an error body for the job's ``error`` and the logs."""
    return " ".join(head[:300].decode("utf-8", "replace").split()) or "(empty body)"
