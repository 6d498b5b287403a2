"""Fetch image bytes over HTTPS with ``requests``: the transport of https locations.

The connection is opened by :mod:`shared.storage.guarded_http` (allowed hosts at public
addresses only); what the answer must look like, and the size and time limits while the body
is read, are :mod:`shared.storage.answers`' rules, shared with Supabase Storage.
"""

from __future__ import annotations

import requests

from shared.settings import Settings
from shared.storage.answers import (
    CHUNK_BYTES,
    ERROR_HEAD_BYTES,
    FetchLimits,
    check_answer,
    looks_like_error_document,
    redact,
    within_limits,
)
from shared.storage.errors import ImageFetchError, StorageUnavailableError


def fetch_url(url: str, settings: Settings, via: requests.Session) -> bytes:
    """GET ``url`` through ``via`` and return the body, which must look like an image and fit ``MAX_IMAGE_BYTES``."""
    shown = redact(url)
    limits = FetchLimits.of(settings)
    deadline = limits.deadline()
    try:
        response = via.get(url, stream=True, timeout=limits.timeout_seconds, allow_redirects=False)
    except requests.RequestException as exc:
        raise StorageUnavailableError(f"cannot fetch {shown}: {type(exc).__name__}") from exc
    with response:
        error_head = _body_head(response) if response.status_code >= 400 else b""
        check_answer(response.status_code, response.headers, error_head, shown, limits.max_bytes)
        try:
            body = b"".join(within_limits(response.iter_content(CHUNK_BYTES), shown, limits, deadline))
        except requests.RequestException as exc:
            raise StorageUnavailableError(f"download of {shown} broke off: {type(exc).__name__}") from exc
    if looks_like_error_document(body):
        raise ImageFetchError("error_body", f"{shown} answered an error document instead of an image")
    return body


def _body_head(response: requests.Response) -> bytes:
    """The first bytes of a streamed body, without reading a large body to its end."""
    try:
        return next(response.iter_content(ERROR_HEAD_BYTES), b"")
    except requests.RequestException:
        return b""
