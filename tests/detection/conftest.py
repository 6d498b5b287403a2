"""Fixtures of the detection service tests: the service's environment, its app, messages, jobs."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import flask
import functions_framework
import psycopg
import pytest
from flask.testing import FlaskClient

from shared.db.connection import connect
from shared.face_analysis.packs import DEFAULT_PACK
from shared.pipeline.job_signal import background_signals
from shared.pipeline.messages import DetectMessage
from shared.settings import REPO_ROOT
from tests.factories import make_event, make_media
from tests.support.callbacks import CallbackRecorder
from tests.support.supabase_storage import SupabaseStorageStandIn

MODEL = DEFAULT_PACK  # the service as deployed by default
BUCKET = "event-media"  # the Supabase Storage bucket of the media rows
FUNCTIONS_SOURCE = REPO_ROOT / "functions" / "main.py"


@pytest.fixture
def detect_env(database_url: str, models_dir: Path, callback_recorder: CallbackRecorder, tmp_path: Path,
               monkeypatch: pytest.MonkeyPatch) -> Iterator[CallbackRecorder]:
    """The service's configuration for one test: its own database, real models, a callback recorder,
    and the test's temporary folder as the local store (``file://`` images must be inside it).

    The service signals ml-callback from a background thread after the ack: the test ends once
    its signals went out (or were given up), so none reaches a later test's recorder."""
    monkeypatch.setenv("FACECLUSTER_MODEL_DIR", str(models_dir))
    monkeypatch.setenv("MODEL_PACK", MODEL)
    monkeypatch.setenv("LOCAL_STORAGE_DIR", str(tmp_path))
    for name in ("PUSH_AUTH_AUDIENCE", "PUSH_AUTH_SERVICE_ACCOUNT"):
        monkeypatch.delenv(name, raising=False)
    yield callback_recorder
    assert background_signals().wait_idle(timeout=60), "the service's signals never went out"


def detect_app() -> flask.Flask:
    """The app exactly as ``functions-framework --source=functions/main.py --target=detect_push`` serves it."""
    return functions_framework.create_app(target="detect_push", source=str(FUNCTIONS_SOURCE))


@pytest.fixture
def client(detect_env: CallbackRecorder) -> FlaskClient:
    app = detect_app()
    return app.test_client()


@pytest.fixture(scope="session")
def group_photo(faces_data_dir: Path) -> bytes:
    """A photo with four faces."""
    return (faces_data_dir / "group_photos" / "images" / "faceapi_bbt1.jpg").read_bytes()


@pytest.fixture
def stored_photo(supabase_storage: SupabaseStorageStandIn, group_photo: bytes) -> str:
    """The group photo in the Supabase Storage stand-in; its location."""
    supabase_storage.put(BUCKET, "events/e1/group.jpg", group_photo)
    return f"storage://{BUCKET}/events/e1/group.jpg"


def push_envelope(data: bytes, attributes: dict[str, str] | None = None,
                  published: datetime | None = None) -> dict[str, Any]:
    """The body Pub/Sub push sends (wrapped form)."""
    message_id = str(uuid.uuid4().int % 10**12)
    publish_time = (published or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    message: dict[str, Any] = {"data": base64.b64encode(data).decode(), "messageId": message_id,
                               "message_id": message_id, "publishTime": publish_time, "publish_time": publish_time}
    if attributes:
        message["attributes"] = attributes
    return {"message": message, "subscription": "projects/facecluster-test/subscriptions/detect-push"}


@dataclass(frozen=True)
class DetectCase:
    event_id: uuid.UUID
    media_id: uuid.UUID
    job_id: uuid.UUID
    message: DetectMessage

    @property
    def envelope(self) -> dict[str, Any]:
        return push_envelope(self.message.to_bytes())


def storage_path_of(image: str) -> str:
    """The ``media.storage_path`` the app writes for an image location: a bare key in the default bucket."""
    return image.removeprefix(f"storage://{BUCKET}/")


def make_detect_job(db: psycopg.Connection, image: str, *, enabled: bool = True, storage_path: str | None = None,
                    max_attempts: int = 5, event_id: uuid.UUID | None = None) -> DetectCase:
    """An event, a media row whose ``storage_path`` is ``image`` and a pending detect job for it,
    as ml-enqueue leaves them (the message carries ``image`` too, which the worker ignores)."""
    event_id = event_id or make_event(db, enabled=enabled)
    media_id = make_media(db, event_id, storage_path=storage_path or storage_path_of(image))
    job_id = db.execute(
        "insert into ml_jobs (job_type, event_id, media_id, model, max_attempts) "
        "values ('detect', %s, %s, %s, %s) returning id", (event_id, media_id, MODEL, max_attempts)).fetchone()["id"]
    message = DetectMessage(job_id=job_id, event_id=event_id, media_id=media_id, image=image, model=MODEL)
    return DetectCase(event_id, media_id, job_id, message)


def job_row(db: psycopg.Connection, job_id: uuid.UUID) -> dict[str, Any]:
    return db.execute("select * from ml_jobs where id = %s", (job_id,)).fetchone()


def face_count(db: psycopg.Connection, media_id: uuid.UUID) -> int:
    return db.execute("select count(*) as n from faces where media_id = %s", (media_id,)).fetchone()["n"]


def database_name(url: str) -> str:
    return psycopg.conninfo.conninfo_to_dict(url)["dbname"]


@contextmanager
def database_down(server_url: str, dbname: str) -> Iterator[None]:
    """The test's database refuses connections and its open ones are cut, as in an outage."""
    with connect(server_url, autocommit=True) as admin:
        admin.execute(f'alter database "{dbname}" with allow_connections false')
        admin.execute("select pg_terminate_backend(pid) from pg_stat_activity where datname = %s", (dbname,))
    try:
        yield
    finally:
        with connect(server_url, autocommit=True) as admin:
            admin.execute(f'alter database "{dbname}" with allow_connections true')
