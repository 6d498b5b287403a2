"""The whole pipeline on real photos with real models: where faces are, what they carry, how they compare."""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from shared.face_analysis import Face, FaceAnalyzer, get_analyzer
from shared.settings import Settings
from tests.face_analysis.conftest import encode, iou, labelled_embedding, settings_for
from tests.face_analysis.test_decode import stored_with_orientation

PORTRAIT = "group_photos/images/fr_obama1.jpg"


def labelled_recall(analyzer: FaceAnalyzer, faces_data_dir: Path, group_faces: dict[str, list[dict[str, str]]],
                    ) -> tuple[int, list[str]]:
    """(labelled faces, those not found) over every group photo: found = a detection with IoU >= 0.4."""
    total, missed = 0, []
    for image_path, rows in group_faces.items():
        faces = analyzer.analyze_path(faces_data_dir / image_path).faces
        for row in rows:
            if not row["identity"]:
                continue
            total += 1
            box = [float(row[k]) for k in ("x1", "y1", "x2", "y2")]
            if not any(iou(face.bbox, box) >= 0.4 for face in faces):
                missed.append(f"{image_path} {row['identity']}")
    return total, missed


def test_group_photos_give_the_labelled_faces(analyzer: FaceAnalyzer, faces_data_dir: Path,
                                              group_faces: dict[str, list[dict[str, str]]]) -> None:
    total, missed = labelled_recall(analyzer, faces_data_dir, group_faces)
    assert total == 44
    assert missed == []


def test_face_carries_box_landmarks_quality_embedding_and_thumbnail(analyzer: FaceAnalyzer,
                                                                    faces_data_dir: Path) -> None:
    analysis = analyzer.analyze_path(faces_data_dir / "group_photos/images/faceapi_bbt1.jpg")
    assert (analysis.width, analysis.height) == (1366, 768)
    assert len(analysis.faces) == 4
    for face in analysis.faces:
        x1, y1, x2, y2 = face.bbox
        assert 0 <= x1 < x2 <= 1366 and 0 <= y1 < y2 <= 768
        assert len(face.landmarks) == 5
        assert all(x1 <= x <= x2 and y1 <= y <= y2 for x, y in face.landmarks)
        right_eye, left_eye, nose, mouth_right, mouth_left = face.landmarks
        assert right_eye[0] < nose[0] < left_eye[0] and mouth_right[0] < mouth_left[0]  # image-left first
        assert max(right_eye[1], left_eye[1]) < nose[1] < min(mouth_right[1], mouth_left[1])
        assert 0.5 <= face.det_score <= 1 and 0 < face.quality <= 1
        assert face.embedding.dtype == np.float32 and face.embedding.shape == (256,)
        assert np.linalg.norm(face.embedding) == pytest.approx(1.0, abs=1e-5)
        assert face.model == "yunet-reid256"
        thumbnail = Image.open(io.BytesIO(face.thumbnail))
        assert thumbnail.format == "JPEG" and max(thumbnail.size) == 112
    assert analyzer.embedding_dim == 256 and analyzer.pack_id == "yunet-reid256"


@pytest.fixture(scope="module")
def portrait(faces_data_dir: Path) -> Image.Image:
    return Image.open(faces_data_dir / PORTRAIT).convert("RGB")


@pytest.fixture(scope="module")
def portrait_face(analyzer: FaceAnalyzer, portrait: Image.Image) -> Face:
    faces = analyzer.analyze(encode(portrait, quality=95)).faces
    assert len(faces) == 1
    return faces[0]


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_puts_the_box_on_the_face(analyzer: FaceAnalyzer, portrait: Image.Image,
                                                   portrait_face: Face, orientation: int) -> None:
    analysis = analyzer.analyze(stored_with_orientation(portrait, orientation))
    assert (analysis.width, analysis.height) == portrait.size
    assert len(analysis.faces) == 1
    assert iou(analysis.faces[0].bbox, portrait_face.bbox) > 0.85
    assert float(analysis.faces[0].embedding @ portrait_face.embedding) > 0.97


def test_images_without_faces_give_no_faces(analyzer: FaceAnalyzer, faces_data_dir: Path) -> None:
    rng = np.random.default_rng(7)
    noise = Image.fromarray(rng.integers(0, 256, (480, 640, 3), dtype=np.uint8))
    blank = Image.new("RGB", (1200, 900), (120, 160, 200))
    # A real photo's background: the bottom strip of the Obama/Biden photo holds no face.
    photo = Image.open(faces_data_dir / "group_photos/images/fr_obama_and_biden.jpg")
    for image in (noise, blank, photo.crop((0, 0, 700, 380))):
        analysis = analyzer.analyze(encode(image))
        assert analysis.faces == []
        assert (analysis.width, analysis.height) == image.size


def test_event_size_jpeg_gives_the_same_faces_as_the_original(analyzer: FaceAnalyzer, faces_data_dir: Path) -> None:
    """A 12 Mpx JPEG is detected at reduced size; boxes still land in full-size pixels."""
    original = Image.open(faces_data_dir / "group_photos/images/faceapi_bbt1.jpg").convert("RGB")
    reference = analyzer.analyze(encode(original, quality=95)).faces
    factor = 4000 / original.width
    big = original.resize((4000, round(original.height * factor)), Image.Resampling.LANCZOS)
    faces = analyzer.analyze(encode(big, quality=90)).faces
    assert len(faces) == len(reference) == 4
    for face in reference:
        scaled = [v * factor for v in face.bbox]
        match = max(faces, key=lambda f: iou(f.bbox, scaled))
        assert iou(match.bbox, scaled) > 0.8
        assert float(match.embedding @ face.embedding) > 0.95


@pytest.mark.parametrize("analyzer_fixture", ["analyzer", "dlib_analyzer"])
def test_same_person_embeddings_are_closer_than_different_people(
        analyzer_fixture: str, request: pytest.FixtureRequest, faces_data_dir: Path,
        dev_manifest: list[dict[str, str]]) -> None:
    analyzer: FaceAnalyzer = request.getfixturevalue(analyzer_fixture)
    by_identity: dict[str, list[dict[str, str]]] = {}
    for row in dev_manifest:
        by_identity.setdefault(row["identity"], []).append(row)
    # Three images of each of eight people from all three sources (LFW, deepface, face-api.js).
    chosen = [identity for identity in sorted(by_identity) if len(by_identity[identity]) >= 3][::4][:8]
    embeddings, labels = [], []
    for identity in chosen:
        for row in by_identity[identity][:3]:
            embeddings.append(labelled_embedding(analyzer, faces_data_dir, row))
            labels.append(identity)
    same, different = [], []
    for i, j in itertools.combinations(range(len(labels)), 2):
        (same if labels[i] == labels[j] else different).append(float(embeddings[i] @ embeddings[j]))
    assert len(same) == 8 * 3 and len(different) == 8 * 7 // 2 * 9
    assert {identity.split("_")[0] for identity in chosen} == {"lfw", "deepface", "bbt"}
    assert np.mean(same) > np.mean(different) + 0.1
    # Ranking: nearly every same-person pair is closer than nearly every different-person pair.
    auc = np.mean([s > d for s in same for d in different])
    assert auc > 0.95


def test_threshold_and_minimum_size_come_from_settings(models_dir: Path, faces_data_dir: Path) -> None:
    photo = (faces_data_dir / "group_photos/images/fr_obama_and_biden.jpg").read_bytes()
    strict = FaceAnalyzer(settings_for(models_dir, DETECTION_THRESHOLD="0.925"))
    assert strict.threshold == 0.925
    assert all(face.det_score >= 0.925 for face in strict.analyze(photo).faces)
    large_only = FaceAnalyzer(settings_for(models_dir, MIN_FACE_SIZE="180"))
    faces = large_only.analyze(photo).faces
    assert faces and all(min(f.bbox[2] - f.bbox[0], f.bbox[3] - f.bbox[1]) >= 180 for f in faces)
    assert len(faces) < len(FaceAnalyzer(settings_for(models_dir)).analyze(photo).faces)


def test_shared_analyzer_loads_models_once_lazily(models_dir: Path, faces_data_dir: Path) -> None:
    settings = settings_for(models_dir)
    shared = get_analyzer(settings)
    assert get_analyzer(Settings.from_env({"FACECLUSTER_MODEL_DIR": str(models_dir)})) is shared
    fresh = FaceAnalyzer(settings)
    assert fresh.model_loaded is False
    fresh.analyze_path(faces_data_dir / PORTRAIT)
    assert fresh.model_loaded is True


@pytest.mark.parametrize("pack", ["scrfd-dlib", "scrfd25-dlib"])
def test_scrfd_packs_find_the_labelled_faces(models_dir: Path, faces_data_dir: Path, pack: str,
                                             group_faces: dict[str, list[dict[str, str]]]) -> None:
    analyzer = FaceAnalyzer(settings_for(models_dir, MODEL_PACK=pack))
    photos = {path: rows for path, rows in group_faces.items() if "bbt" in path}
    total, missed = labelled_recall(analyzer, faces_data_dir, photos)
    assert total >= 20 and missed == []
    face = analyzer.analyze_path(faces_data_dir / PORTRAIT).faces[0]
    assert face.model == pack and face.embedding.shape == (128,)


def test_dlib_worker_processes_give_the_same_embeddings(models_dir: Path, dlib_analyzer: FaceAnalyzer,
                                                        faces_data_dir: Path) -> None:
    photo = faces_data_dir / "group_photos/images/faceapi_bbt1.jpg"
    pooled = FaceAnalyzer(settings_for(models_dir, MODEL_PACK="yunet-dlib", RECOGNIZER_THREADS="2"))
    try:
        in_pool = pooled.analyze_path(photo).faces
    finally:
        pooled.close()
    in_process = dlib_analyzer.analyze_path(photo).faces
    assert len(in_pool) == len(in_process) == 4
    for a, b in zip(in_pool, in_process, strict=True):
        assert a.bbox == b.bbox
        np.testing.assert_allclose(a.embedding, b.embedding, atol=1e-6)


def test_concurrent_analyses_match_serial_ones(analyzer: FaceAnalyzer, faces_data_dir: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    photos = [faces_data_dir / "group_photos/images" / name
              for name in ("fr_two_people.jpg", "faceapi_bbt2.jpg", "fr_obama_and_biden.jpg", "deepface_couple.jpg")]
    serial = [analyzer.analyze_path(photo) for photo in photos]
    with ThreadPoolExecutor(4) as pool:
        concurrent = list(pool.map(analyzer.analyze_path, photos))
    for one, other in zip(serial, concurrent, strict=True):
        assert [f.bbox for f in one.faces] == [f.bbox for f in other.faces]
        for a, b in zip(one.faces, other.faces, strict=True):
            np.testing.assert_allclose(a.embedding, b.embedding, atol=1e-6)
