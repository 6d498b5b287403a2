"""``gcp-storage-emulator`` (in memory, on a free loopback port) for ``gs://`` objects.

The session fixture runs the server; the ``gcs_bucket`` fixture points the test's settings at
it (``STORAGE_EMULATOR_HOST``) and gives it a fresh bucket, which becomes ``UPLOADS_BUCKET``
(the only bucket ``gs://`` images and upload notifications may name).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from gcp_storage_emulator.server import create_server
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage

from localdev.stack.processes import free_port
from tests.support.pubsub_emulator import PROJECT


class GcsEmulator:
    def __init__(self, host: str) -> None:
        self.host = host
        self.endpoint = f"http://{host}"
        self.client = storage.Client(project=PROJECT, credentials=AnonymousCredentials(),
                                     client_options={"api_endpoint": self.endpoint})

    def create_bucket(self, prefix: str = "bucket") -> storage.Bucket:
        return self.client.create_bucket(f"{prefix}-{uuid.uuid4().hex[:8]}")


@pytest.fixture(scope="session")
def gcs_emulator() -> Iterator[GcsEmulator]:
    port = free_port()
    server = create_server("127.0.0.1", port, in_memory=True)
    server.start()
    try:
        yield GcsEmulator(f"127.0.0.1:{port}")
    finally:
        server.stop()


@pytest.fixture
def gcs_bucket(gcs_emulator: GcsEmulator, monkeypatch: pytest.MonkeyPatch) -> storage.Bucket:
    """A fresh bucket in the emulator, with STORAGE_EMULATOR_HOST and UPLOADS_BUCKET set for the test."""
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator.endpoint)
    bucket = gcs_emulator.create_bucket()
    monkeypatch.setenv("UPLOADS_BUCKET", bucket.name)
    return bucket
