"""``models fetch`` against a local HTTP server standing in for the upstream release.

The real upstream is never contacted by tests; the download, zip extraction and checksum
logic is the same code either way.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import http.server
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.face_analysis import ModelFilesError
from shared.face_analysis.model_download import fetch_pack
from shared.face_analysis.packs import OPEN_MODEL_ZOO, PACKS, ModelFile, verify_pack


@pytest.fixture
def release(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An HTTP server over a folder: (base URL, folder)."""
    folder = tmp_path / "release"
    folder.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", folder
    server.shutdown()
    server.server_close()


def test_fetch_downloads_extracts_and_verifies(release: tuple[str, Path], models_dir: Path, tmp_path: Path) -> None:
    base, folder = release
    detector = (models_dir / "buffalo_sc/det_500m.onnx").read_bytes()
    recogniser = b"stand-in recogniser weights"
    with zipfile.ZipFile(folder / "pack.zip", "w") as archive:
        archive.writestr("pack/det_500m.onnx", detector)
        archive.writestr("pack/w600k_test.onnx", recogniser)
    pack = dataclasses.replace(
        PACKS["buffalo_l"], id="test-pack",
        detector_file=dataclasses.replace(PACKS["scrfd-dlib"].detector_file, url=f"{base}/pack.zip"),
        recognizer_files=(ModelFile("test/w600k_test.onnx", hashlib.sha256(recogniser).hexdigest(), "model_dir",
                                    url=f"{base}/pack.zip", zip_member="w600k_test.onnx"),))
    target = tmp_path / "models"
    fetched = fetch_pack(pack, target)
    assert fetched == [target / "buffalo_sc/det_500m.onnx", target / "test/w600k_test.onnx"]
    assert len(verify_pack(pack, target)) == 2
    assert fetch_pack(pack, target) == []  # already there and valid: nothing downloaded


def test_fetch_refuses_a_file_with_the_wrong_checksum(release: tuple[str, Path], tmp_path: Path) -> None:
    base, folder = release
    (folder / "yunet.onnx").write_bytes(b"not the model")
    pack = dataclasses.replace(PACKS["yunet-dlib"],
                               detector_file=dataclasses.replace(PACKS["yunet-dlib"].detector_file,
                                                                 url=f"{base}/yunet.onnx"))
    target = tmp_path / "models"
    with pytest.raises(ModelFilesError, match=r"download of yunet_sface/face_detection_yunet_2023mar\.onnx from "
                                              r"http://127\.0\.0\.1:\d+/yunet\.onnx has sha256 \w+, expected 8f2383e4"):
        fetch_pack(pack, target)
    assert list((target / "yunet_sface").iterdir()) == []  # nothing that looks installed


def test_fetch_gets_the_default_pack_from_intels_release(release: tuple[str, Path], models_dir: Path,
                                                        tmp_path: Path) -> None:
    """The Open Model Zoo layout (<model>/<precision>/<model>.xml|.bin) served locally, and the
    pack's real URLs rewritten to it: the same paths under another host."""
    base, folder = release
    pack = PACKS["yunet-reid256"]
    assert [f.url for f in pack.recognizer_files] == [
        f"https://storage.openvinotoolkit.org/repositories/open_model_zoo/2023.0/models_bin/1/"
        f"face-reidentification-retail-0095/FP16/face-reidentification-retail-0095.{ext}" for ext in ("xml", "bin")]
    for model_file in pack.recognizer_files:
        served = folder / model_file.url.removeprefix(OPEN_MODEL_ZOO + "/")
        served.parent.mkdir(parents=True, exist_ok=True)
        served.write_bytes((models_dir / model_file.path).read_bytes())
    target = tmp_path / "models"
    (target / pack.detector_file.path).parent.mkdir(parents=True)
    (target / pack.detector_file.path).write_bytes((models_dir / pack.detector_file.path).read_bytes())
    local = dataclasses.replace(pack, recognizer_files=tuple(
        dataclasses.replace(f, url=f.url.replace(OPEN_MODEL_ZOO, base)) for f in pack.recognizer_files))
    fetched = fetch_pack(local, target)
    assert fetched == [target / f.path for f in pack.recognizer_files]
    assert len(verify_pack(pack, target)) == 3
