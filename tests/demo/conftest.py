"""Fixtures of the demo's tests: a small folder of labelled photos and the demo's environment.

The demo runs against the test's own fresh database (``DATABASE_URL``) and a temporary data
directory, with the real models; photos are copied from ../shared into a temporary folder,
never into the repository.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from shared.settings import REPO_ROOT, Settings

# Identities whose photos show one dominant face; a few photos each keep the run short.
IDENTITIES = ("bbt_sheldon", "bbt_penny", "bbt_raj", "bbt_howard")
PHOTOS_PER_IDENTITY = 4
ARTIFACTS_DIR = REPO_ROOT / "test-artifacts"


def copy_labelled_photos(faces_data_dir: Path, target: Path, identities: tuple[str, ...] = IDENTITIES,
                         per_identity: int = PHOTOS_PER_IDENTITY) -> dict[str, list[Path]]:
    """Copy ``per_identity`` photos of each identity into ``target/<identity>/``; return them by identity."""
    copied: dict[str, list[Path]] = {}
    for identity in identities:
        sources = sorted((faces_data_dir / "dev" / identity).glob("*.jpg"))[:per_identity]
        assert len(sources) == per_identity, f"{identity} has fewer than {per_identity} photos in {faces_data_dir}"
        (target / identity).mkdir(parents=True, exist_ok=True)
        copied[identity] = [Path(shutil.copy2(source, target / identity / source.name)) for source in sources]
    return copied


@pytest.fixture
def photos_dir(faces_data_dir: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    copy_labelled_photos(faces_data_dir, folder)
    return folder


@pytest.fixture
def demo_env(database_url: str, models_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment of a demo run: the test's database, a temporary data directory, the real models."""
    env = {"DATABASE_URL": database_url, "FACECLUSTER_DATA_DIR": str(tmp_path / "data"),
           "FACECLUSTER_MODEL_DIR": str(models_dir)}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def demo_settings(demo_env: dict[str, str]) -> Settings:
    return Settings.from_env()
