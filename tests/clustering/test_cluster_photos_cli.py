"""``facecluster cluster-photos`` on real group photos: the offline path end to end (models, no database)."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path

import pytest

from shared.cli import main
from shared.face_analysis import DEFAULT_PACK


def _iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def test_group_photos_cluster_into_pure_persons(faces_data_dir: Path, models_dir: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACECLUSTER_MODEL_DIR", str(models_dir))
    folder = faces_data_dir / "group_photos"
    out = tmp_path / "faces.jsonl"
    assert main(["cluster-photos", str(folder), "--out", str(out)]) == 0
    faces = [json.loads(line) for line in out.read_text().splitlines()]
    assert faces and all(set(f) == {"path", "bbox", "score", "quality", "person"} for f in faces)
    # Two faces of one photo are never one person.
    seen = set()
    for face in faces:
        if face["person"] is not None:
            assert (face["path"], face["person"]) not in seen
            seen.add((face["path"], face["person"]))
    # Labelled faces (IoU >= 0.4 with the dataset's box): every person holds one identity.
    with open(folder / "faces.csv", newline="") as handle:
        truth = [row for row in csv.DictReader(handle) if row["identity"]]
    identities = defaultdict(set)
    matched = 0
    for face in faces:
        for row in truth:
            box = [float(row[k]) for k in ("x1", "y1", "x2", "y2")]
            if Path(row["path"]).name == Path(face["path"]).name and _iou(face["bbox"], box) >= 0.4:
                matched += 1
                if face["person"] is not None:
                    identities[face["person"]].add(row["identity"])
    assert matched >= 0.8 * len(truth)
    assert identities and all(len(ids) == 1 for ids in identities.values())


def test_suggestions_offer_the_pieces_of_a_split_person(faces_data_dir: Path, models_dir: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Ten photos of one woman: precision-first clustering makes two persons of her, the suggestion rejoins them."""
    monkeypatch.setenv("FACECLUSTER_MODEL_DIR", str(models_dir))
    monkeypatch.setenv("MODEL_PACK", DEFAULT_PACK)  # this folder's other tests run with yunet-dlib
    out, suggestions = tmp_path / "faces.jsonl", tmp_path / "suggestions.jsonl"
    folder = faces_data_dir / "dev2" / "lfw_Jennifer_Lopez"
    assert main(["cluster-photos", str(folder), "--out", str(out), "--suggestions", str(suggestions)]) == 0
    faces = [json.loads(line) for line in out.read_text().splitlines()]
    pairs = [json.loads(line) for line in suggestions.read_text().splitlines()]
    persons = {f["person"] for f in faces} - {None}
    assert len(persons) >= 2 and pairs
    assert all(set(p) == {"a", "b", "score"} and p["a"] < p["b"] and {p["a"], p["b"]} <= persons for p in pairs)
    assert [p["score"] for p in pairs] == sorted((p["score"] for p in pairs), reverse=True)
    photos = defaultdict(set)
    for face in faces:
        photos[face["person"]].add(face["path"])
    assert all(not photos[p["a"]] & photos[p["b"]] for p in pairs)  # cannot-link
    offered = {frozenset((p["a"], p["b"])) for p in pairs}
    assert all(frozenset((a, b)) in offered for a in persons for b in persons if a < b)  # one woman: all pieces
