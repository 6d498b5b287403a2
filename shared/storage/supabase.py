"""Supabase Storage objects through storage3, supabase-py's Storage client, inside our fetch rules.

**storage3, not the** ``supabase`` **package.** ``supabase.create_client(...).storage`` is a
``storage3.SyncStorageClient`` (same repository, same release); the package around it also builds
an auth client (with session storage and listeners that swap the ``Authorization`` header and
drop the storage client on sign-in), a realtime client (websockets), PostgREST and functions
clients. The worker holds one fixed service role key and reads the database with psycopg, so
none of them is used; they would add 3.1 MiB to the image and their mutable auth state to a
client that threads share (docs/detection-service.md has the measurements).

**Download, not sign and fetch.** The library's ``download`` sends the service role key to
``GET /storage/v1/object/<bucket>/<key>``: one request instead of two, no token in a URL, and
where the bytes come from no longer depends on a URL the server answered.

**What the library leaves to us.** Its own httpx client follows redirects, has no deadline for
the whole download, reads any body whole and quotes error bodies in its exceptions. So it gets
ours: no redirects, ``FETCH_TIMEOUT_SECONDS`` per socket operation, ``Accept-Encoding: identity``,
and a transport that applies :mod:`shared.storage.answers` to every answer before the library
sees it (redirect, error status, also the one Supabase reports in its JSON body, content type,
declared length, a compressed body) and reads the body in chunks under ``MAX_IMAGE_BYTES`` and
the deadline. An error answer is refused there, so the library's ``StorageApiError`` never arises.

One client per process and settings (``httpx.Client`` may be shared between threads, and
``SyncStorageClient`` keeps no per-request state): connections to Supabase are reused.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from urllib.parse import quote

import httpx
from storage3 import SyncStorageClient

from shared.settings import Settings
from shared.storage.answers import (
    ERROR_HEAD_BYTES,
    FetchLimits,
    check_answer,
    looks_like_error_document,
    redact,
    reported_status,
    within_limits,
)
from shared.storage.errors import ImageFetchError, StorageUnavailableError
from shared.storage.policy import ImageLocation


def fetch_supabase_object(location: ImageLocation, settings: Settings) -> bytes:
    """Bytes of an object of the app's bucket (``location.scheme == "storage"``)."""
    settings.require("SUPABASE_URL", "SUPABASE_SERVICE_ROLE_KEY")
    client = storage_client(settings.supabase_url, settings.supabase_service_role_key, FetchLimits.of(settings))
    try:
        # storage3 takes the key percent-encoded (it unquotes before splitting on "/"): quoting the
        # literal key first keeps "a%41.jpg" that object, and "%2e%2e" a name rather than "..".
        body = client.from_(location.bucket).download(quote(location.key))
    except httpx.TransportError as exc:   # connection refused, timeouts, a broken-off answer
        raise StorageUnavailableError(f"cannot fetch {location} from Supabase Storage: "
                                      f"{type(exc).__name__}") from exc
    if looks_like_error_document(body):
        raise ImageFetchError("error_body", f"{location} answered an error document instead of an image")
    return body


@functools.cache
def storage_client(supabase_url: str, service_role_key: str, limits: FetchLimits) -> SyncStorageClient:
    """The Storage API client on ``SUPABASE_URL`` with the service role key, over our guarded httpx client."""
    http_client = httpx.Client(transport=_GuardedTransport(limits), timeout=limits.timeout_seconds,
                               follow_redirects=False, headers={"Accept-Encoding": "identity"})
    return SyncStorageClient(f"{supabase_url.rstrip('/')}/storage/v1/",
                             {"apikey": service_role_key, "Authorization": f"Bearer {service_role_key}"},
                             http_client=http_client)


class _GuardedTransport(httpx.BaseTransport):
    """httpx's own transport, with every answer checked before its body is read and read within limits."""

    def __init__(self, limits: FetchLimits) -> None:
        self._inner = httpx.HTTPTransport()
        self._limits = limits

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        deadline = self._limits.deadline()
        response = self._inner.handle_request(request)
        shown = redact(str(request.url))
        try:
            _refuse_before_the_body(response, shown, self._limits)
        except BaseException:
            response.close()
            raise
        return httpx.Response(response.status_code, headers=response.headers, extensions=response.extensions,
                              stream=_LimitedStream(response.stream, shown, self._limits, deadline))

    def close(self) -> None:
        self._inner.close()


def _refuse_before_the_body(response: httpx.Response, shown: str, limits: FetchLimits) -> None:
    error_head = _stream_head(response.stream) if response.status_code >= 400 else b""
    # Our own key was refused (the gateway's 401, or the Storage API's own error document saying
    # 401/403; it answers those with HTTP 400): a deployment problem that retries can outlast once
    # fixed, not a property of this image. A bare 403 page comes from something in between and
    # refuses this request like any other.
    if response.status_code == 401 or reported_status(error_head, 0) in (401, 403):
        raise StorageUnavailableError(f"Supabase Storage refused SUPABASE_SERVICE_ROLE_KEY for {shown} "
                                      f"(HTTP {response.status_code})")
    check_answer(response.status_code, response.headers, error_head, shown, limits.max_bytes)
    encoding = response.headers.get("Content-Encoding", "").strip().lower()
    if encoding not in ("", "identity"):
        # httpx would decode it after the limits counted the compressed bytes: a small body could
        # inflate without bound. We asked for identity; an object stored compressed stays refused.
        raise ImageFetchError("refused", f"{shown} answered Content-Encoding {encoding[:30]!r}; "
                                         "only uncompressed images are read")


def _stream_head(stream: httpx.SyncByteStream) -> bytes:
    """The first bytes of a raw (undecoded, unread) body: enough for an error document's status."""
    return next(iter(stream), b"")[:ERROR_HEAD_BYTES]


class _LimitedStream(httpx.SyncByteStream):
    """The body as it arrives, cut off over ``MAX_IMAGE_BYTES`` or past the deadline (before httpx joins it)."""

    def __init__(self, inner: httpx.SyncByteStream, shown: str, limits: FetchLimits, deadline: float) -> None:
        self._inner, self._shown, self._limits, self._deadline = inner, shown, limits, deadline

    def __iter__(self) -> Iterator[bytes]:
        yield from within_limits(self._inner, self._shown, self._limits, self._deadline)

    def close(self) -> None:
        self._inner.close()
