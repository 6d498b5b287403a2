"""Fixtures for face analysis: settings pointing at ../shared/models, one analyser per pack.

Analysers are session-scoped because loading models is the slow part; the pipeline keeps no
state between images, so sharing one is what production does too.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from shared.face_analysis import FaceAnalyzer
from shared.settings import Settings


def settings_for(models_dir: Path, **environ: str) -> Settings:
    return Settings.from_env({"FACECLUSTER_MODEL_DIR": str(models_dir), **environ})


@pytest.fixture(scope="session")
def analyzer(models_dir: Path) -> Iterator[FaceAnalyzer]:
    """The default pack (yunet-reid256) at its default settings."""
    face_analyzer = FaceAnalyzer(settings_for(models_dir))
    yield face_analyzer
    face_analyzer.close()


@pytest.fixture(scope="session")
def dlib_analyzer(models_dir: Path) -> Iterator[FaceAnalyzer]:
    """The dlib pack (yunet-dlib): the same detector as the default, dlib's recogniser."""
    face_analyzer = FaceAnalyzer(settings_for(models_dir, MODEL_PACK="yunet-dlib"))
    yield face_analyzer
    face_analyzer.close()


@pytest.fixture(scope="session")
def group_faces(faces_data_dir: Path) -> dict[str, list[dict[str, str]]]:
    """Labelled rows of group_photos/faces.csv by image path (relative to the faces folder)."""
    by_image: dict[str, list[dict[str, str]]] = {}
    with (faces_data_dir / "group_photos" / "faces.csv").open() as stream:
        for row in csv.DictReader(stream):
            by_image.setdefault(row["path"], []).append(row)
    return by_image


@pytest.fixture(scope="session")
def dev_manifest(faces_data_dir: Path) -> list[dict[str, str]]:
    with (faces_data_dir / "dev_manifest.csv").open() as stream:
        return list(csv.DictReader(stream))


def encode(image: Image.Image, fmt: str = "JPEG", **params: object) -> bytes:
    stream = io.BytesIO()
    image.save(stream, format=fmt, **params)
    return stream.getvalue()


def iou(a: tuple[float, ...] | list[float], b: tuple[float, ...] | list[float]) -> float:
    inter_w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    inter_h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = inter_w * inter_h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def labelled_embedding(analyzer: FaceAnalyzer, faces_data_dir: Path, row: dict[str, str]) -> np.ndarray:
    """The embedding of a manifest row's labelled face: the detection that overlaps its box best."""
    box = [float(v) for v in row["labelled_face_box_x1y1x2y2"].split()]
    faces = analyzer.analyze_path(faces_data_dir / row["path"]).faces
    labelled = max(faces, key=lambda f: iou(f.bbox, box))
    assert iou(labelled.bbox, box) >= 0.4
    return labelled.embedding
