"""Start and stop the whole local system: database, Pub/Sub, functions, detection service, review page.

One embedded PostgreSQL serves every process (its URL goes into each server's environment);
secrets are random per run; every server is a real ``functions-framework`` process on a
loopback port. A media row inserted into the database starts its detection as in production:
the database's notification is forwarded to ml-media-inserted
(:mod:`localdev.stack.media_insert_listener`). :class:`LocalStack` is a context manager: leaving
it, normally, on an error, on Ctrl-C or on SIGTERM, stops every process it started.
"""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from localdev.review.photo_access import ReviewPhotos
from localdev.review.server import ReviewServer
from localdev.stack.media_insert_listener import MediaInsertListener
from localdev.stack.processes import ProcessGroup, ProcessStartError
from localdev.stack.pubsub_emulator import create_push_subscription, find_emulator, start_emulator
from localdev.stack.push_relay import PushRelay
from localdev.stack.servers import function_url, reserve_ports, start_function, wait_until_ready
from shared.db.connection import resolve_database_url
from shared.db.migrate import migrate
from shared.settings import Settings

logger = logging.getLogger(__name__)

PUBSUB_MODES = ("auto", "emulator", "relay")   # auto: the emulator when installed, else the relay
FUNCTION_TARGETS = ("ml_callback", "ml_enqueue", "media_inserted", "detect_push", "face_persons",
                    "face_person_actions", "face_selfie_search")
# Variables of the caller's environment that would point the servers somewhere else.
_CLEARED_VARIABLES = ("SUPABASE_JWKS_URL", "PUSH_AUTH_AUDIENCE", "PUSH_AUTH_SERVICE_ACCOUNT", "STORAGE_EMULATOR_HOST",
                      "PUBSUB_EMULATOR_HOST")


@dataclass(frozen=True)
class StackUrls:
    ml_enqueue: str
    ml_callback: str
    media_inserted: str
    detect_push: str
    face_persons: str
    face_person_actions: str
    face_selfie_search: str
    review: str


class LocalStack:
    """Everything the pipeline needs, on loopback; use as ``with LocalStack(...) as stack:``."""

    def __init__(self, settings: Settings, *, pack: str, log_dir: Path, objects_dir: Path,
                 pubsub: str = "auto") -> None:
        if pubsub not in PUBSUB_MODES:
            raise ValueError(f"pubsub must be one of {', '.join(PUBSUB_MODES)}")
        self.settings = settings
        self.objects_dir = objects_dir
        self.pubsub = pubsub
        self.pack = pack
        self.log_dir = log_dir
        self.jwt_secret = secrets.token_urlsafe(32)
        self.callback_secret = secrets.token_urlsafe(32)
        self.media_webhook_secret = secrets.token_urlsafe(32)
        self.processes = ProcessGroup()
        self.database_url = ""
        self.pubsub_mode = ""
        self.urls: StackUrls | None = None
        self._relay: PushRelay | None = None
        self._review: ReviewServer | None = None
        self._media_inserts: MediaInsertListener | None = None

    def __enter__(self) -> LocalStack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start_database(self) -> str:
        """The database every process shares, migrated; started first so data can be prepared."""
        if not self.database_url:
            self.database_url = resolve_database_url(self.settings)
            migrate(self.database_url)
        return self.database_url

    def start(self) -> None:
        self.start_database()
        self._review = ReviewServer({}, photos=ReviewPhotos(self.photo_settings(), self.database_url))
        self._review.start()
        ports = reserve_ports(FUNCTION_TARGETS)
        urls = {target: function_url(port) for target, port in ports.items()}
        pubsub_host = self._start_pubsub(urls["detect_push"])
        env = self.server_environment(pubsub_host, urls["ml_callback"], self._review.origin)
        started = {target: self.processes.add(start_function(target, ports[target], env, self.log_dir))
                   for target in FUNCTION_TARGETS}
        for target, process in started.items():
            wait_until_ready(target, process, ports[target])
        if self.pubsub_mode == "emulator":
            create_push_subscription(pubsub_host, self.settings.google_cloud_project, self.settings.pubsub_topic,
                                     urls["detect_push"])
        self.urls = StackUrls(review=self._review.url, **urls)
        # Last: a detect message published before the push subscription exists would be dropped.
        self._media_inserts = MediaInsertListener(self.database_url, urls["media_inserted"], self.media_webhook_secret)
        self._media_inserts.start()
        logger.info("local stack ready", extra={"pubsub": self.pubsub_mode, "logs": str(self.log_dir)})

    def _start_pubsub(self, push_endpoint: str) -> str:
        binary = find_emulator() if self.pubsub != "relay" else None
        if binary is None and self.pubsub == "emulator":
            raise ProcessStartError("the Pub/Sub emulator is not installed (gcloud components install "
                                    "pubsub-emulator); use --pubsub relay or auto")
        if binary is not None:
            process, host = start_emulator(binary, self.log_dir)
            self.processes.add(process)
            self.pubsub_mode = "emulator"
            return host
        self._relay = PushRelay(push_endpoint, self.settings.google_cloud_project, self.settings.pubsub_topic)
        self._relay.start()
        self.pubsub_mode = "in-process relay"
        return self._relay.host

    def server_environment(self, pubsub_host: str, callback_url: str, review_origin: str) -> dict[str, str]:
        """The environment of every server: the caller's, with the stack's own settings on top."""
        env = {key: value for key, value in os.environ.items() if key not in _CLEARED_VARIABLES}
        env.update({
            "DATABASE_URL": self.database_url,
            "FACECLUSTER_DATA_DIR": str(self.settings.facecluster_data_dir),
            "FACECLUSTER_MODEL_DIR": str(self.settings.model_dir),
            "MODEL_PACK": self.pack,
            "CALLBACK_URL": callback_url,
            "CALLBACK_SECRET": self.callback_secret,
            "MEDIA_WEBHOOK_SECRET": self.media_webhook_secret,
            "SUPABASE_JWT_SECRET": self.jwt_secret,
            "PUBSUB_EMULATOR_HOST": pubsub_host,
            "GOOGLE_CLOUD_PROJECT": self.settings.google_cloud_project,
            "PUBSUB_TOPIC": self.settings.pubsub_topic,
            "CLUSTER_RUNNER": "local",
            "CORS_ALLOWED_ORIGINS": review_origin,
            # The local object store is the one place file:// images may come from.
            "LOCAL_STORAGE_DIR": str(self.objects_dir.resolve()),
            "PYTHONUNBUFFERED": "1",
        })
        # As deployed: one recogniser worker process per core (dlib holds the GIL), unless set.
        env.setdefault("RECOGNIZER_THREADS", str(os.cpu_count() or 1))
        return env

    def photo_settings(self) -> Settings:
        """The review server's photos are checked as the functions check tokens and read as the worker reads."""
        return self.settings.model_copy(update={"supabase_jwt_secret": self.jwt_secret, "supabase_jwks_url": None,
                                                "local_storage_dir": self.objects_dir.resolve()})

    def set_review_config(self, config: dict[str, Any]) -> None:
        assert self._review is not None, "the stack is not started"
        self._review.set_config(config)

    def check_running(self) -> None:
        """Raise (with the log's tail) when a server died: waiting on it would wait forever."""
        self.processes.check_running()

    def stop(self) -> None:
        if self._media_inserts is not None:
            self._media_inserts.stop()
            self._media_inserts = None
        self.processes.stop_all()
        if self._relay is not None:
            self._relay.stop()
            self._relay = None
        if self._review is not None:
            self._review.stop()
            self._review = None
