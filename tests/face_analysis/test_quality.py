"""The quality score leaves faces cut by the border, too small to recognise or in profile below the
clustering bar, on real photos through the real models: such faces built the junk persons."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from shared.clustering.params import model_defaults
from shared.face_analysis import Face, FaceAnalyzer
from tests.face_analysis.conftest import encode, iou

PORTRAIT = "group_photos/images/fr_obama1.jpg"


@pytest.fixture(scope="module")
def photo(faces_data_dir: Path) -> Image.Image:
    return Image.open(faces_data_dir / PORTRAIT).convert("RGB")


def only_face(analyzer: FaceAnalyzer, image: Image.Image) -> Face:
    faces = analyzer.analyze(encode(image, quality=95)).faces
    assert len(faces) == 1
    return faces[0]


def quality_bar(analyzer: FaceAnalyzer) -> float:
    return model_defaults(analyzer.pack_id, analyzer.embedding_dim).min_quality


def test_a_whole_sharp_frontal_face_passes_the_bar(analyzer: FaceAnalyzer, photo: Image.Image) -> None:
    assert only_face(analyzer, photo).quality >= quality_bar(analyzer) + 0.3


def test_a_face_cut_in_half_by_the_border_stays_below_the_bar(analyzer: FaceAnalyzer, photo: Image.Image) -> None:
    x1, _, x2, _ = only_face(analyzer, photo).bbox
    cut = photo.crop((round((x1 + x2) / 2), 0, photo.width, photo.height))
    face = only_face(analyzer, cut)
    assert face.bbox[0] == 0  # the detector still finds the half face, at the border
    assert face.quality < quality_bar(analyzer)


def test_a_face_too_small_to_recognise_stays_below_the_bar(analyzer: FaceAnalyzer, photo: Image.Image) -> None:
    x1, _, x2, _ = only_face(analyzer, photo).bbox
    scale = 26 / (x2 - x1)
    small = photo.resize((round(photo.width * scale), round(photo.height * scale)), Image.Resampling.LANCZOS)
    face = only_face(analyzer, small)
    assert face.quality < quality_bar(analyzer)
    # The same face at a legible size passes: size alone decided.
    scale = 60 / (x2 - x1)
    legible = photo.resize((round(photo.width * scale), round(photo.height * scale)), Image.Resampling.LANCZOS)
    assert only_face(analyzer, legible).quality >= quality_bar(analyzer)


def test_a_face_in_profile_stays_below_the_bar(analyzer: FaceAnalyzer, faces_data_dir: Path) -> None:
    """Bill Simon turned sideways (dev): a whole, sharp, confident face that shows no identity to compare."""
    faces = analyzer.analyze_path(faces_data_dir / "dev/lfw_Bill_Simon/Bill_Simon_0006.jpg").faces
    labelled = max(faces, key=lambda face: iou(face.bbox, (42, 46, 99, 103)))  # the dataset's labelled box
    assert iou(labelled.bbox, (42, 46, 99, 103)) > 0.4 and labelled.det_score > 0.8
    assert labelled.quality < quality_bar(analyzer)
