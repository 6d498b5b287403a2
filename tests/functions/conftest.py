"""Fixtures of the app-facing functions: the environment, minted tokens, app clients, a world of persons."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import flask.testing
import functions_framework
import jwt
import psycopg
import pytest

from shared.db.connection import get_pool
from shared.pipeline.cluster_launch import use_cluster_runner
from shared.settings import REPO_ROOT, get_settings
from tests.functions.world import MODEL, World, build_world
from tests.support.pubsub_emulator import PubsubEmulator, pubsub_emulator  # noqa: F401 (a fixture)

JWT_SECRET = "test-jwt-secret-that-is-long-enough-for-hs256"
CALLBACK_SECRET = "test-callback-secret"
MEDIA_WEBHOOK_SECRET = "test-media-webhook-secret"
APP_ORIGIN = "https://app.example"
MAIN_SOURCE = str(REPO_ROOT / "functions" / "main.py")


def mint_token(user_id: uuid.UUID | str, *, secret: str = JWT_SECRET, expires_in: int = 600,
               audience: str = "authenticated", **claims: Any) -> str:
    now = int(time.time())
    payload = {"sub": str(user_id), "aud": audience, "role": "authenticated", "iat": now, "exp": now + expires_in,
               **claims}
    return jwt.encode(payload, secret, algorithm="HS256")


@pytest.fixture
def api_env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The functions' configuration for a test: its own database, test secrets, generous limits."""
    monkeypatch.setenv("SUPABASE_JWT_SECRET", JWT_SECRET)
    monkeypatch.setenv("CALLBACK_SECRET", CALLBACK_SECRET)
    monkeypatch.setenv("MEDIA_WEBHOOK_SECRET", MEDIA_WEBHOOK_SECRET)
    monkeypatch.setenv("CORS_ALLOWED_ORIGINS", APP_ORIGIN)
    monkeypatch.setenv("RATE_LIMIT_PER_MINUTE", "1000")
    monkeypatch.setenv("SELFIE_RATE_LIMIT_PER_MINUTE", "1000")
    monkeypatch.setenv("MODEL_PACK", MODEL)  # the world's faces are dlib-like 128-d vectors (world.py)
    yield
    get_pool(get_settings()).close()  # before the test database is dropped


@dataclass
class FunctionClient:
    """A functions-framework app of one target, called as the app would call it."""

    client: flask.testing.FlaskClient

    def call(self, body: dict[str, Any] | None = None, *, user: uuid.UUID | None = None, token: str | None = None,
             method: str = "POST", query: dict[str, Any] | None = None,
             headers: dict[str, str] | None = None) -> Any:
        headers = dict(headers or {})
        if user is not None:
            token = mint_token(user)
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return self.client.open("/", method=method, json=body, query_string=query, headers=headers)


def function_client(target: str) -> FunctionClient:
    return FunctionClient(functions_framework.create_app(target=target, source=MAIN_SOURCE).test_client())


@pytest.fixture
def world(db: psycopg.Connection, api_env: None) -> World:
    """The event of :func:`tests.functions.world.build_world`, in the test's database."""
    return build_world(db)


@pytest.fixture
def persons_api(api_env: None) -> FunctionClient:
    return function_client("face_persons")


@pytest.fixture
def actions_api(api_env: None) -> FunctionClient:
    return function_client("face_person_actions")


class RecordingRunner:
    """Stands in for the Cloud Run Jobs API / subprocess: records each clustering start."""

    def __init__(self) -> None:
        self.starts: list[tuple[uuid.UUID, uuid.UUID]] = []
        self._lock = threading.Lock()

    def start(self, event_id: uuid.UUID, job_id: uuid.UUID) -> str:
        with self._lock:
            self.starts.append((event_id, job_id))
        return "recorded"


@pytest.fixture
def runner() -> Iterator[RecordingRunner]:
    recording = RecordingRunner()
    with use_cluster_runner(recording):
        yield recording


@pytest.fixture
def detect_topic(pubsub_emulator: PubsubEmulator,  # noqa: F811 (the imported fixture)
                 monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """A fresh topic on the emulator that ml-enqueue publishes to, and a pull subscription to read it."""
    topic = pubsub_emulator.create_topic("ml-detect")
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", pubsub_emulator.host)
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", pubsub_emulator.project)
    monkeypatch.setenv("PUBSUB_TOPIC", topic.rsplit("/", 1)[1])
    return topic, pubsub_emulator.create_pull_subscription(topic)


@pytest.fixture
def enqueue_api(api_env: None) -> FunctionClient:
    return function_client("ml_enqueue")


@pytest.fixture
def callback_api(api_env: None) -> FunctionClient:
    return function_client("ml_callback")


@pytest.fixture
def media_inserted_api(api_env: None) -> FunctionClient:
    return function_client("media_inserted")
