"""``facecluster search-photos`` on real photos: the offline selfie search end to end (models, no database)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from shared.cli import main

PEOPLE = ("lfw_David_Beckham", "bbt_amy", "deepface_p03", "lfw_Martha_Stewart", "bbt_howard")


def _event(faces_data_dir: Path, tmp_path: Path) -> tuple[Path, dict[str, Path], dict[str, set[str]]]:
    """Links to each person's photos but the first (the event) and the first photos (the selfies)."""
    event = tmp_path / "event"
    selfies, truth = {}, {}
    for person in PEOPLE:
        photos = sorted((faces_data_dir / "dev" / person).iterdir())
        selfies[person] = photos[0]
        (event / person).mkdir(parents=True)
        for photo in photos[1:]:
            (event / person / photo.name).symlink_to(photo)
        truth[person] = {f"{person}/{photo.name}" for photo in photos[1:]}
    return event, selfies, truth


def test_each_selfie_finds_its_own_photos_and_bad_selfies_are_reported(
        faces_data_dir: Path, models_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("FACECLUSTER_MODEL_DIR", str(models_dir))
    event, selfies, truth = _event(faces_data_dir, tmp_path)
    garbage = tmp_path / "garbage.jpg"
    garbage.write_bytes(b"\xff\xd8 not really a jpeg")
    blank = tmp_path / "wall.png"
    Image.fromarray(np.full((300, 300, 3), 200, np.uint8)).save(blank)
    out = tmp_path / "found.jsonl"
    asked = [str(selfies[p]) for p in PEOPLE[:3]] + [str(garbage), str(blank)]

    assert main(["search-photos", str(event), *asked, "--out", str(out)]) == 1

    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines and all(set(line) == {"selfie", "path", "score"} for line in lines)
    errors = capsys.readouterr().err
    assert f"{garbage}: unreadable" in errors
    assert f"{blank}: no_face" in errors
    for person in PEOPLE[:3]:
        found = {line["path"] for line in lines if line["selfie"] == str(selfies[person])}
        assert found <= truth[person], f"{person}: photos of someone else returned"
        assert len(found) >= 0.75 * len(truth[person]), f"{person}: {len(found)} of {len(truth[person])} photos"
    assert {line["selfie"] for line in lines} == set(asked[:3])
    assert all(0 < line["score"] <= 1 for line in lines)
