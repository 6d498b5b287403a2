"""ml-media-inserted on loopback with the local stack's listener forwarding the database's notifications.

The same path as production with ``pg_net`` replaced by ``pg_notify`` + :class:`MediaInsertListener`:
a media row inserted into the test's database reaches the real functions-framework target.
"""

from __future__ import annotations

from collections.abc import Iterator

import functions_framework
import pytest

from localdev.stack.media_insert_listener import MediaInsertListener
from shared.settings import REPO_ROOT
from tests.support.loopback import serve_wsgi

MEDIA_WEBHOOK_SECRET = "stand-in-media-webhook-secret"


@pytest.fixture
def media_insert_forwarding(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The target served and the listener started on the test's database; yields the target's URL."""
    monkeypatch.setenv("MEDIA_WEBHOOK_SECRET", MEDIA_WEBHOOK_SECRET)
    app = functions_framework.create_app(target="media_inserted", source=str(REPO_ROOT / "functions" / "main.py"))
    with serve_wsgi(app) as url:
        listener = MediaInsertListener(database_url, url + "/", MEDIA_WEBHOOK_SECRET)
        listener.start()
        try:
            yield url + "/"
        finally:
            listener.stop()
