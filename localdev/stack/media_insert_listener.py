"""Forward the database's media-insert notifications to ml-media-inserted, as Supabase's webhook does.

Where ``pg_net`` is absent (the embedded PostgreSQL of the demo and the tests), the trigger of
migration ``20261130001000`` still sends ``pg_notify('facecluster_media_inserted', '<event id>')``.
This listens on its own connection and POSTs ``{"event_id": <payload>}`` with the webhook secret to
the same endpoint the production webhook calls, so the same path runs locally. The payload is
forwarded as it is: the endpoint validates it (anyone may call ``pg_notify``).

PostgreSQL keeps no notification for a listener that is not connected, so on every (re)connection
it first nudges each event that has media awaiting detection.
"""

from __future__ import annotations

import logging
import threading

import psycopg
import requests

from shared.api.auth import MEDIA_WEBHOOK_HEADER
from shared.db.connection import connect
from shared.db.media_inserts import events_with_awaiting_media, listen_for_media_inserts

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.5            # how often the thread looks up from waiting to see whether it must stop
RECONNECT_SECONDS = 1.0
CATCH_UP_EVENT_LIMIT = 1000
FORWARD_TIMEOUT_SECONDS = 60


class MediaInsertListener:
    """A thread that LISTENs and forwards; :meth:`start` returns once it listens, :meth:`stop` ends it."""

    def __init__(self, database_url: str, endpoint: str, secret: str) -> None:
        self.database_url = database_url
        self.endpoint = endpoint
        self._headers = {MEDIA_WEBHOOK_HEADER: secret}
        self._stopping = threading.Event()
        self._listening = threading.Event()
        self._thread = threading.Thread(target=self._run, name="media-insert-listener", daemon=True)

    def start(self, timeout: float = 30.0) -> None:
        self._thread.start()
        if not self._listening.wait(timeout):
            raise RuntimeError(f"the media-insert listener could not listen within {timeout:.0f} s")

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=FORWARD_TIMEOUT_SECONDS)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._listen()
            except psycopg.OperationalError as exc:
                logger.warning("media-insert listener lost the database; reconnecting", extra={"problem": str(exc)})
                self._stopping.wait(RECONNECT_SECONDS)

    def _listen(self) -> None:
        with connect(self.database_url, autocommit=True) as conn:
            listen_for_media_inserts(conn)
            for event_id in events_with_awaiting_media(conn, 0, CATCH_UP_EVENT_LIMIT):
                self._forward(str(event_id))
            self._listening.set()
            while not self._stopping.is_set():
                for notification in conn.notifies(timeout=POLL_SECONDS):
                    self._forward(notification.payload)

    def _forward(self, payload: str) -> None:
        """POST one nudge; a failure is logged, not retried: the record stays and the sweep starts it."""
        try:
            response = requests.post(self.endpoint, json={"event_id": payload}, headers=self._headers,
                                     timeout=FORWARD_TIMEOUT_SECONDS)
        except requests.RequestException as exc:
            logger.warning("could not forward a media-insert notification", extra={"problem": str(exc)})
            return
        if response.status_code >= 400:
            logger.warning("ml-media-inserted refused a notification",
                           extra={"status": response.status_code, "answer": response.text[:300]})
