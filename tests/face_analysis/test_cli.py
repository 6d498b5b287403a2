"""``facecluster analyze`` and ``facecluster models verify`` as an operator runs them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from shared.cli import main


@pytest.fixture
def model_env(models_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FACECLUSTER_MODEL_DIR", str(models_dir))
    return models_dir


def test_analyze_prints_a_line_per_face_and_an_error_per_bad_image(
        model_env: Path, faces_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = str(faces_data_dir / "group_photos/images/fr_two_people.jpg")
    text = tmp_path / "notes.jpg"
    text.write_text("not a photo")
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(Path(good).read_bytes()[:2000])
    status = main(["analyze", str(text), good, str(cut), "--embeddings"])
    out, err = capsys.readouterr()
    assert status == 1
    records = [json.loads(line) for line in out.splitlines()]
    assert len(records) == 2
    for record in records:
        assert set(record) == {"path", "bbox", "landmarks", "score", "quality", "model", "embedding"}
        assert record["path"] == good and record["model"] == "yunet-reid256"
        assert len(record["bbox"]) == 4 and len(record["landmarks"]) == 5 and len(record["embedding"]) == 256
        assert np.linalg.norm(record["embedding"]) == pytest.approx(1.0, abs=1e-4)
    not_an_image, truncated = err.splitlines()
    assert not_an_image == f"{text}: not_an_image: the data is not an image in a known format"
    assert truncated.startswith(f"{cut}: truncated: JPEG image data is truncated or corrupt (image file is truncated")


def test_analyze_without_embeddings_and_with_another_pack(
        model_env: Path, faces_data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    photo = str(faces_data_dir / "group_photos/images/fr_obama1.jpg")
    assert main(["analyze", photo, "--pack", "scrfd-dlib"]) == 0
    (record,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert "embedding" not in record and record["model"] == "scrfd-dlib"


def test_models_verify(model_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "verify"]) == 0  # MODEL_PACK: the default, Intel's IR beside YuNet
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == "yunet-reid256: all 3 file(s) match their SHA-256"
    assert lines[1].endswith("face-reidentification-retail-0095/FP16/face-reidentification-retail-0095.xml")
    assert main(["models", "verify", "yunet-reid256-int8"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "yunet-reid256-int8: all 3 file(s) match their SHA-256"
    assert main(["models", "verify", "scrfd25-dlib"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "scrfd25-dlib: all 3 file(s) match their SHA-256"
    assert main(["models", "verify", "buffalo_l"]) == 1
    assert "facecluster models fetch buffalo_l" in capsys.readouterr().err
