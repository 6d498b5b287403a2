"""A stand-in for an internal service (a metadata server, an admin port) on loopback.

It counts every TCP connection it accepts, before any HTTP is spoken, and answers each request
with a secret; a test passes when the worker never connected (``connections == 0``) and the
secret appears nowhere: not in ``ml_jobs``, not in a response.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

SECRET = "internal-secret-7f3a9c"


@dataclass
class InternalServer:
    url: str
    port: int
    connections: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def counted(self) -> None:
        with self._lock:
            self.connections += 1


@contextmanager
def internal_server() -> Iterator[InternalServer]:
    """A threaded HTTP server on 127.0.0.1 whose every answer is 200 with :data:`SECRET`."""
    state: list[InternalServer] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def setup(self) -> None:
            state[0].counted()
            super().setup()

        def do_GET(self) -> None:
            body = f"{SECRET}\nroot:x:0:0:root:/root:/bin/bash\n".encode()
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")   # claims to be an image: the body must still not leak
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.append(InternalServer(f"http://127.0.0.1:{server.server_port}", server.server_port))
    thread = threading.Thread(target=server.serve_forever, name="internal-stand-in", daemon=True)
    thread.start()
    try:
        yield state[0]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
