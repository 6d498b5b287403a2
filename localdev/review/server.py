"""A tiny static server for the review page, in a thread of the demo process.

It serves ``page/`` as it is, plus ``config.js``, which tells the page where the
``face-persons`` and ``face-person-actions`` servers are, which event to show and the
organiser's token, and ``/photo?media_id=`` (:mod:`localdev.review.photo_access`), the photo an
organiser boxes a missed face on. Against a deployed system the page gets the same settings from
its URL fragment instead, and the app supplies the photo URLs (docs/demo.md).
"""

from __future__ import annotations

import functools
import json
import threading
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from localdev.review.photo_access import ReviewPhotos
from shared.api.auth import bearer_token
from shared.api.http import ApiError

REVIEW_DIR = Path(__file__).resolve().parent / "page"  # only the page: this folder also holds Python


def config_script(config: dict[str, Any]) -> str:
    """``config.js``: the page's settings as a global (``</`` escaped so it cannot end the script)."""
    return "window.FACECLUSTER_CONFIG = " + json.dumps(config).replace("</", "<\\/") + ";\n"


class _ReviewHandler(SimpleHTTPRequestHandler):
    config_js: bytes = b""
    photos: ReviewPhotos | None = None

    def do_GET(self) -> None:
        route = urlsplit(self.path)
        if route.path == "/config.js":
            self._send(HTTPStatus.OK, self.config_js, "text/javascript; charset=utf-8")
        elif route.path == "/photo" and self.photos is not None:
            self._send_photo(self.photos, parse_qs(route.query).get("media_id", [None])[0])
        else:
            super().do_GET()

    def _send_photo(self, photos: ReviewPhotos, media_id: str | None) -> None:
        try:
            data, mime = photos.photo(bearer_token(self), media_id)
        except ApiError as exc:
            self._send(exc.status, json.dumps(exc.body()).encode(), "application/json", exc.headers)
            return
        self._send(HTTPStatus.OK, data, mime)

    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        """A generated answer (config.js, a photo, an error): never cached, never sniffed as another type."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def end_headers(self) -> None:
        if urlsplit(self.path).path not in ("/config.js", "/photo"):
            self.send_header("Cache-Control", "no-cache")  # revalidate: the page changes with the code
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the demo's terminal shows progress, not access logs."""


class ReviewServer:
    """Serves the review page on a loopback port until :meth:`stop`."""

    def __init__(self, config: dict[str, Any], host: str = "127.0.0.1", port: int = 0,
                 photos: ReviewPhotos | None = None) -> None:
        handler = type("ReviewHandler", (_ReviewHandler,), {"config_js": b"", "photos": photos})
        self._handler = handler
        self._httpd = ThreadingHTTPServer((host, port), functools.partial(handler, directory=str(REVIEW_DIR)))
        self._httpd.daemon_threads = True
        self.set_config(config)
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="review-server", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/"

    @property
    def origin(self) -> str:
        return self.url.rstrip("/")

    def set_config(self, config: dict[str, Any]) -> None:
        self._handler.config_js = config_script(config).encode()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
