"""Download a pack's files from their upstream releases, verified by SHA-256.

Used at image build time (``facecluster models fetch $MODEL_PACK``), never at run time and
never by tests: a serving process must not depend on GitHub being up. A file is written
under its final name only after its checksum matched, so an interrupted fetch leaves
nothing that looks valid.
"""

from __future__ import annotations

import logging
import os
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

import requests

from shared.face_analysis.errors import ModelFilesError
from shared.face_analysis.packs import (
    DLIB_MODELS_REQUIREMENT,
    ModelFile,
    ModelPack,
    file_path,
    sha256_of,
)

logger = logging.getLogger(__name__)
_TIMEOUT_SECONDS = 60


def _download(url: str, target: Path) -> None:
    logger.info("downloading %s", url)
    with requests.get(url, stream=True, timeout=_TIMEOUT_SECONDS) as response:
        response.raise_for_status()
        with target.open("wb") as stream:
            for block in response.iter_content(1 << 20):
                stream.write(block)


def _extract_member(archive: Path, member: str, target: Path) -> None:
    with zipfile.ZipFile(archive) as zipped:
        names = [name for name in zipped.namelist() if PurePosixPath(name).name == member]
        if not names:
            raise ModelFilesError(f"{member} is not in the downloaded archive {archive.name}")
        with zipped.open(names[0]) as source, target.open("wb") as stream:
            while block := source.read(1 << 20):
                stream.write(block)


def fetch_pack(pack: ModelPack, model_dir: Path) -> list[Path]:
    """Make every file of the pack present and valid; return the paths downloaded now."""
    fetched: list[Path] = []
    archives: dict[str, Path] = {}
    with tempfile.TemporaryDirectory(prefix="facecluster-fetch-") as scratch:
        for model_file in pack.files:
            path = file_path(model_file, model_dir)
            if path.is_file() and sha256_of(path) == model_file.sha256:
                continue
            if model_file.url is None:
                raise ModelFilesError(f"{path} is missing or corrupt and has no download URL; "
                                      f"install it with: pip install --force-reinstall {DLIB_MODELS_REQUIREMENT}")
            _fetch_file(model_file, path, Path(scratch), archives)
            fetched.append(path)
    return fetched


def _fetch_file(model_file: ModelFile, path: Path, scratch: Path, archives: dict[str, Path]) -> None:
    assert model_file.url is not None
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    if model_file.zip_member:
        if model_file.url not in archives:  # buffalo_l.zip holds two of the pack's files
            archives[model_file.url] = scratch / PurePosixPath(model_file.url).name
            _download(model_file.url, archives[model_file.url])
        _extract_member(archives[model_file.url], model_file.zip_member, partial)
    else:
        _download(model_file.url, partial)
    actual = sha256_of(partial)
    if actual != model_file.sha256:
        partial.unlink()
        raise ModelFilesError(f"download of {model_file.path} from {model_file.url} has sha256 {actual}, "
                              f"expected {model_file.sha256}; not installed")
    os.replace(partial, path)
