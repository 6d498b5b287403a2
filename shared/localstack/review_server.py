"""A tiny static server for the review page, in a thread of the demo process.

It serves ``shared/review/`` as it is, plus ``config.js``, which tells the page where the
``face-persons`` and ``face-person-actions`` servers are, which event to show and the
organiser's token. Against a deployed system the page gets the same settings from its URL
fragment instead (docs/demo.md).
"""

from __future__ import annotations

import functools
import json
import threading
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REVIEW_DIR = Path(__file__).resolve().parents[1] / "review"


def config_script(config: dict[str, Any]) -> str:
    """``config.js``: the page's settings as a global (``</`` escaped so it cannot end the script)."""
    return "window.FACECLUSTER_CONFIG = " + json.dumps(config).replace("</", "<\\/") + ";\n"


class _ReviewHandler(SimpleHTTPRequestHandler):
    config_js: bytes = b""

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] == "/config.js":
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "text/javascript; charset=utf-8")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Content-Length", str(len(self.config_js)))
            self.end_headers()
            self.wfile.write(self.config_js)
            return
        super().do_GET()

    def end_headers(self) -> None:
        if not self.path.startswith("/config.js"):
            self.send_header("Cache-Control", "no-cache")  # revalidate: the page changes with the code
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the demo's terminal shows progress, not access logs."""


class ReviewServer:
    """Serves the review page on a loopback port until :meth:`stop`."""

    def __init__(self, config: dict[str, Any], host: str = "127.0.0.1", port: int = 0) -> None:
        handler = type("ReviewHandler", (_ReviewHandler,), {"config_js": b""})
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
