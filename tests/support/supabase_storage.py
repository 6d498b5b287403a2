"""A local stand-in for Supabase Storage's signed-URL API (not Supabase itself).

It answers the two calls the detection service makes, as the Storage API does:

* ``POST /storage/v1/object/sign/<bucket>/<path>`` with the service role key →
  ``{"signedURL": "/object/sign/<bucket>/<path>?token=<JWT>"}``; a missing object → HTTP 400 with
  ``{"statusCode": "404", "error": "not_found", ...}``; a wrong key → HTTP 400 with ``statusCode`` 403.
* ``GET /storage/v1/object/sign/<bucket>/<path>?token=...`` → the bytes; an expired or forged
  token → HTTP 400 with ``{"statusCode": "400", "error": "InvalidJWT", ...}``.

Tests put objects in, mint signed URLs (also already expired ones) and queue canned answers
(an HTML error page, a 503) or a stall for the next downloads.
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
        """The next GET of a signed URL gets this answer (e.g. a redirect's ``Location``) instead of the object."""
        self.canned.append(CannedResponse(status, body, content_type, tuple((headers or {}).items())))

    def _build_app(self) -> flask.Flask:
        app = flask.Flask("supabase-storage-stand-in")

        @app.post("/storage/v1/object/sign/<bucket>/<path:path>")
        def sign(bucket: str, path: str) -> tuple[dict, int]:
            if flask.request.headers.get("Authorization") != f"Bearer {SERVICE_ROLE_KEY}":
                return {"statusCode": "403", "error": "Unauthorized", "message": "invalid signature"}, 400
            if (bucket, path) not in self.objects:
                return {"statusCode": "404", "error": "not_found", "message": "Object not found"}, 400
            expires_in = int((flask.request.get_json(silent=True) or {}).get("expiresIn", 60))
            signed = self.signed_url(bucket, path, expires_in).removeprefix(f"{self.url}/storage/v1")
            return {"signedURL": signed}, 200

        @app.get("/storage/v1/object/sign/<bucket>/<path:path>")
        def download(bucket: str, path: str) -> ResponseReturnValue:
            self.downloads += 1
            if self.before_download is not None:
                self.before_download()
            time.sleep(self.download_delay)
            if self.canned:
                canned = self.canned.popleft()
                return flask.Response(canned.body, canned.status, headers=list(canned.headers),
                                      content_type=canned.content_type)
            try:
                claims = jwt.decode(flask.request.args.get("token", ""), _TOKEN_SECRET, algorithms=["HS256"])
            except jwt.ExpiredSignatureError:
                return _error(400, "InvalidJWT", '"exp" claim timestamp check failed')
            except jwt.InvalidTokenError as exc:
                return _error(400, "InvalidJWT", str(exc))
            if claims.get("url") != f"{bucket}/{path}":
                return _error(400, "InvalidSignature", "The url do not match the signature")
            if (bucket, path) not in self.objects:
                return _error(400, "not_found", "Object not found", status_code="404")
            data, content_type = self.objects[(bucket, path)]
            return flask.Response(data, 200, content_type=content_type)

        return app


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
