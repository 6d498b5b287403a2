"""A local stand-in for Supabase Storage's object API (not Supabase itself).

It answers on the Storage REST API's paths as the Storage server does (its error handler
answers HTTP 400 with the real status in the body's ``statusCode``, 500 stays 500):

* ``GET /storage/v1/object/<bucket>/<path>`` with ``Authorization: Bearer <service role key>``
  (what storage3's ``download`` calls) → the bytes; a missing object → HTTP 400 with
  ``{"statusCode": "404", "error": "not_found", ...}``; another key → HTTP 400 with ``statusCode``
  403 (the bucket is private, so the request counts as unauthenticated).
* ``GET /storage/v1/object/sign/<bucket>/<path>?token=...`` (a signed URL, as the app hands
  them out) → the bytes; an expired or forged token → HTTP 400 with ``{"statusCode": "400",
  "error": "InvalidJWT", ...}``.

Tests put objects in, mint signed URLs (also already expired ones), queue canned answers (an
HTML error page, a 503, a redirect) or a stall for the next downloads, and can have bodies sent
without ``Content-Length`` (chunked).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import flask
import jwt
import pytest
from flask.typing import ResponseReturnValue

from tests.support.loopback import serve_wsgi

SERVICE_ROLE_KEY = "stand-in-service-role-key"
_TOKEN_SECRET = "stand-in-storage-secret-of-32-bytes-or-more"


@dataclass(frozen=True)
class CannedResponse:
    status: int
    body: bytes
    content_type: str
    headers: tuple[tuple[str, str], ...] = ()


class SupabaseStorageStandIn:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], tuple[bytes, str]] = {}
        self.canned: deque[CannedResponse] = deque()
        self.downloads = 0
        self.download_delay = 0.0          # seconds each download stalls before answering
        self.before_download: Callable[[], None] | None = None   # runs as each download starts
        self.chunked = False               # send object bodies without Content-Length
        self.url = ""                      # set once serving
        self.app = self._build_app()

    def put(self, bucket: str, path: str, data: bytes, content_type: str = "image/jpeg") -> None:
        self.objects[(bucket, path)] = (data, content_type)

    def signed_url(self, bucket: str, path: str, expires_in: int = 60) -> str:
        """A full signed download URL, as a client holding one would have it (negative = expired)."""
        token = jwt.encode({"url": f"{bucket}/{path}", "exp": int(time.time()) + expires_in},
                           _TOKEN_SECRET, algorithm="HS256")
        return f"{self.url}/storage/v1/object/sign/{bucket}/{path}?token={token}"

    def answer_next_download(self, status: int, body: bytes, content_type: str,
                             headers: dict[str, str] | None = None) -> None:
        """The next download gets this answer (e.g. a redirect's ``Location``) instead of the object."""
        self.canned.append(CannedResponse(status, body, content_type, tuple((headers or {}).items())))

    def _build_app(self) -> flask.Flask:
        app = flask.Flask("supabase-storage-stand-in")

        @app.get("/storage/v1/object/<bucket>/<path:path>")
        def download(bucket: str, path: str) -> ResponseReturnValue:
            return self._download(bucket, path, _key_refusal)

        @app.get("/storage/v1/object/sign/<bucket>/<path:path>")
        def signed_download(bucket: str, path: str) -> ResponseReturnValue:
            return self._download(bucket, path, lambda: _token_refusal(bucket, path))

        return app

    def _download(self, bucket: str, path: str, refusal: Callable[[], ResponseReturnValue | None]
                  ) -> ResponseReturnValue:
        self.downloads += 1
        if self.before_download is not None:
            self.before_download()
        time.sleep(self.download_delay)
        if self.canned:
            canned = self.canned.popleft()
            return flask.Response(canned.body, canned.status, headers=list(canned.headers),
                                  content_type=canned.content_type)
        refused = refusal()
        if refused is not None:
            return refused
        if (bucket, path) not in self.objects:
            return _error(400, "not_found", "Object not found", status_code="404")
        data, content_type = self.objects[(bucket, path)]
        return flask.Response(iter([data]) if self.chunked else data, 200, content_type=content_type)

def _key_refusal() -> ResponseReturnValue | None:
    if flask.request.headers.get("Authorization") != f"Bearer {SERVICE_ROLE_KEY}":
        return _error(400, "Unauthorized", "Access denied to this bucket", status_code="403")
    return None


def _token_refusal(bucket: str, path: str) -> ResponseReturnValue | None:
    try:
        claims = jwt.decode(flask.request.args.get("token", ""), _TOKEN_SECRET, algorithms=["HS256"])
    except jwt.ExpiredSignatureError:
        return _error(400, "InvalidJWT", '"exp" claim timestamp check failed')
    except jwt.InvalidTokenError as exc:
        return _error(400, "InvalidJWT", str(exc))
    if claims.get("url") != f"{bucket}/{path}":
        return _error(400, "InvalidSignature", "The url do not match the signature")
    return None


def _error(http_status: int, error: str, message: str, status_code: str | None = None) -> ResponseReturnValue:
    body = {"statusCode": status_code or str(http_status), "error": error, "message": message}
    return flask.jsonify(body), http_status


@pytest.fixture
def supabase_storage(monkeypatch: pytest.MonkeyPatch) -> Iterator[SupabaseStorageStandIn]:
    """A running stand-in, with SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY pointing at it."""
    stand_in = SupabaseStorageStandIn()
    with serve_wsgi(stand_in.app) as url:
        stand_in.url = url
        monkeypatch.setenv("SUPABASE_URL", url)
        monkeypatch.setenv("SUPABASE_SERVICE_ROLE_KEY", SERVICE_ROLE_KEY)
        yield stand_in
