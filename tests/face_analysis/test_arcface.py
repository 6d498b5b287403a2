"""The ArcFace path, exercised for real on a small ONNX model with the w600k_* signature.

No ArcFace weights exist here, so the test builds a network with the same input
([N, 3, 112, 112], float32) and output ([N, 512]) and checks loading, InsightFace's
preprocessing, batching and alignment against an independent numpy computation.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

from shared.face_analysis import FaceAnalyzer
from shared.face_analysis.alignment import ARCFACE_TEMPLATE, norm_crop, similarity_transform
from shared.face_analysis.detectors import create_detector
from shared.face_analysis.packs import PACKS, SCRFD_500M, ModelFile, ModelPack, sha256_of
from shared.face_analysis.recognizers.arcface import ArcFaceRecognizer
from tests.face_analysis.conftest import settings_for

PATCH = 8  # the test network: an 8x8 stride-8 convolution to 8 channels, then a linear map to 512
RNG = np.random.default_rng(2024)
CONV = RNG.normal(0, 0.1, (8, 3, PATCH, PATCH)).astype(np.float32)
LINEAR = RNG.normal(0, 0.1, (8 * 14 * 14, 512)).astype(np.float32)


def build_arcface_like(path: Path, batch: int | str) -> Path:
    graph = helper.make_graph(
        [helper.make_node("Conv", ["input.1", "conv_w"], ["features"], kernel_shape=[PATCH, PATCH],
                          strides=[PATCH, PATCH]),
         helper.make_node("Flatten", ["features"], ["flat"], axis=1),
         helper.make_node("MatMul", ["flat", "linear_w"], ["683"])],
        "arcface_like",
        [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [batch, 3, 112, 112])],
        [helper.make_tensor_value_info("683", TensorProto.FLOAT, [batch, 512])],
        [numpy_helper.from_array(CONV, "conv_w"), numpy_helper.from_array(LINEAR, "linear_w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)])
    model.ir_version = 6
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def reference_embeddings(chips: np.ndarray) -> np.ndarray:
    """The network by hand: InsightFace's (x - 127.5) / 127.5 on RGB, conv as patches, linear, L2."""
    blob = (chips.astype(np.float64) - 127.5) / 127.5  # N, H, W, C
    patches = blob.reshape(len(chips), 14, PATCH, 14, PATCH, 3)
    features = np.einsum("nhywxc,ocyx->nohw", patches, CONV.astype(np.float64))
    vectors = features.reshape(len(chips), -1) @ LINEAR.astype(np.float64)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def dynamic_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_arcface_like(tmp_path_factory.mktemp("arcface") / "w600k_test.onnx", "None")


def random_chips(count: int) -> list[np.ndarray]:
    return list(RNG.integers(0, 256, (count, 112, 112, 3), dtype=np.uint8))


def test_embeddings_follow_insightface_preprocessing(dynamic_model: Path) -> None:
    recognizer = ArcFaceRecognizer(dynamic_model, intra_op_threads=1)
    chips = random_chips(3)
    embeddings = recognizer.embed(chips)
    assert recognizer.dim == 512 and embeddings.shape == (3, 512) and embeddings.dtype == np.float32
    np.testing.assert_allclose(embeddings, reference_embeddings(np.stack(chips)), atol=1e-4)
    assert recognizer.embed([]).shape == (0, 512)


def test_batched_and_single_face_models_agree(dynamic_model: Path, tmp_path: Path) -> None:
    chips = random_chips(5)
    batched = ArcFaceRecognizer(dynamic_model, intra_op_threads=1)
    one_by_one = ArcFaceRecognizer(build_arcface_like(tmp_path / "w600k_batch1.onnx", 1), intra_op_threads=1)
    together = batched.embed(chips)
    np.testing.assert_allclose(together, np.concatenate([batched.embed([chip]) for chip in chips]), atol=1e-5)
    np.testing.assert_allclose(together, one_by_one.embed(chips), atol=1e-5)


def test_norm_crop_puts_the_landmarks_on_the_arcface_template(models_dir: Path, faces_data_dir: Path) -> None:
    rgb = np.asarray(Image.open(faces_data_dir / "group_photos/images/fr_obama_and_biden.jpg").convert("RGB"))
    detector = create_detector("scrfd", models_dir / SCRFD_500M.path, 0.5, (640, 640), 1)
    detection = detector.detect(rgb)[0]
    matrix = similarity_transform(detection.landmarks, ARCFACE_TEMPLATE)
    mapped = np.c_[detection.landmarks, np.ones(5)] @ matrix.T
    assert np.abs(mapped - ARCFACE_TEMPLATE).max() < 6  # five points, four degrees of freedom
    chip = norm_crop(rgb, detection.landmarks)
    assert chip.shape == (112, 112, 3) and chip.dtype == np.uint8 and chip.std() > 20


def test_a_pack_with_arcface_runs_the_whole_pipeline(dynamic_model: Path, models_dir: Path, faces_data_dir: Path,
                                                     tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model_dir = tmp_path / "models"
    (model_dir / "buffalo_sc").mkdir(parents=True)
    (model_dir / SCRFD_500M.path).symlink_to(models_dir / SCRFD_500M.path)
    (model_dir / "test_arcface").mkdir()
    (model_dir / "test_arcface" / dynamic_model.name).symlink_to(dynamic_model)
    recogniser_file = ModelFile(f"test_arcface/{dynamic_model.name}", sha256_of(dynamic_model), "model_dir")
    pack = dataclasses.replace(PACKS["buffalo_l"], id="test-arcface", detector_file=SCRFD_500M,
                               recognizer_files=(recogniser_file,))
    assert isinstance(pack, ModelPack)
    monkeypatch.setitem(PACKS, pack.id, pack)

    analyzer = FaceAnalyzer(settings_for(model_dir, MODEL_PACK="test-arcface"))
    photo = faces_data_dir / "group_photos/images/faceapi_bbt1.jpg"
    faces = analyzer.analyze_path(photo).faces
    assert len(faces) == 4 and analyzer.embedding_dim == 512
    rgb = np.asarray(Image.open(photo).convert("RGB"))
    for face in faces:
        assert face.model == "test-arcface" and face.embedding.shape == (512,)
        # The embedding is the network's output on the norm_crop chip at the reported landmarks.
        chip = norm_crop(rgb, np.array(face.landmarks))
        np.testing.assert_allclose(face.embedding, reference_embeddings(chip[None])[0], atol=1e-3)
    assert len({face.embedding.tobytes() for face in faces}) == 4
