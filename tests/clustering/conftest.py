"""Fixtures for the clustering tests."""

from __future__ import annotations

import pytest

from tests.clustering.db_faces import MODEL


@pytest.fixture
def synthetic_pack(monkeypatch: pytest.MonkeyPatch) -> None:
    """``MODEL_PACK`` = the pack the synthetic faces are written as (dlib's 128-d scale).

    The synthetic embeddings are scaled to dlib's distances and stored as ``yunet-dlib`` faces,
    while the default pack is Intel's: every run that takes its model from the settings (the
    job, ``cluster_event``, incremental assignment) must cluster those faces, not the default
    pack's (none).
    """
    monkeypatch.setenv("MODEL_PACK", MODEL)
