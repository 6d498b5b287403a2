"""The clustering tests' synthetic faces are spread like dlib's 128-d embeddings (``synthetic.py``)
and stored as ``yunet-dlib`` faces, so these tests run with that pack as ``MODEL_PACK``: its
clustering defaults are the ones their distances were chosen against. (The default pack's 256-d
embeddings are tested on real photos in ``test_reid256_db.py``.)"""

from __future__ import annotations

import pytest

from tests.clustering.db_faces import MODEL


@pytest.fixture(autouse=True)
def _dlib_pack(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODEL_PACK", MODEL)
