"""The default pack's recogniser (Intel's face-reidentification-retail-0095 on OpenVINO) on real photos.

What it must give: people told apart (also those dlib confuses), the chip Intel's model expects
(template alignment, BGR 0..255), one batched call per image equal to one face at a time, an
INT8 twin close to FP16, and refusals, with reasons, for a wrong network or a face too small.
"""

from __future__ import annotations

import csv
import dataclasses
import itertools
from pathlib import Path

import numpy as np
import onnx
import openvino as ov
import pytest
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

from shared.face_analysis import FaceAnalyzer, ModelFilesError
from shared.face_analysis.alignment import AlignmentError, similarity_transform, warp_to_template
from shared.face_analysis.detectors import Detection
from shared.face_analysis.packs import PACKS, ModelFile, sha256_of, verify_pack
from shared.face_analysis.recognizers.intel_reid import CHIP_SIZE, TEMPLATE, IntelReidRecognizer
from tests.face_analysis.conftest import encode, labelled_embedding, settings_for

GROUP_PHOTO = "group_photos/images/faceapi_bbt1.jpg"
PORTRAIT = "group_photos/images/fr_obama1.jpg"
# East Asian people of dev2 (dlib's ResNet put such pairs into one person) and three others.
DEV2_PEOPLE = ("lfw_Hu_Jintao", "lfw_Zhu_Rongji", "lfw_Tung_Chee-hwa", "lfw_Junichiro_Koizumi", "lfw_Kim_Dae-jung",
               "lfw_Jackie_Chan", "lfw_Megawati_Sukarnoputri", "lfw_Kofi_Annan")


@pytest.fixture(scope="module")
def int8_analyzer(models_dir: Path) -> FaceAnalyzer:
    return FaceAnalyzer(settings_for(models_dir, MODEL_PACK="yunet-reid256-int8"))


def recognizer_of(analyzer: FaceAnalyzer) -> IntelReidRecognizer:
    analyzer.load()
    recognizer = analyzer._recognizer  # the pipeline's own part, to feed it chips directly
    assert isinstance(recognizer, IntelReidRecognizer)
    return recognizer


def dev2_embeddings(analyzer: FaceAnalyzer, faces_data_dir: Path) -> tuple[np.ndarray, list[str]]:
    """The labelled face of the first four dev2 photos of each of DEV2_PEOPLE."""
    with (faces_data_dir / "dev2_manifest.csv").open() as stream:
        rows = [row for row in csv.DictReader(stream) if row["identity"] in DEV2_PEOPLE]
    embeddings, labels = [], []
    for identity in DEV2_PEOPLE:
        for row in [r for r in rows if r["identity"] == identity][:4]:
            embeddings.append(labelled_embedding(analyzer, faces_data_dir, row))
            labels.append(identity)
    return np.stack(embeddings), labels


def ranking_auc(embeddings: np.ndarray, labels: list[str]) -> float:
    """Share of (same-person pair, different-person pair) couples where the same-person pair is closer."""
    same, different = [], []
    for i, j in itertools.combinations(range(len(labels)), 2):
        (same if labels[i] == labels[j] else different).append(float(embeddings[i] @ embeddings[j]))
    assert len(same) == len(DEV2_PEOPLE) * 6
    return float(np.mean(np.array(same)[:, None] > np.array(different)[None, :]))


def test_new_people_are_told_apart_better_than_by_dlib(analyzer: FaceAnalyzer, dlib_analyzer: FaceAnalyzer,
                                                      faces_data_dir: Path) -> None:
    reid, labels = dev2_embeddings(analyzer, faces_data_dir)
    dlib, dlib_labels = dev2_embeddings(dlib_analyzer, faces_data_dir)
    assert labels == dlib_labels and reid.shape == (len(labels), 256) and dlib.shape == (len(labels), 128)
    reid_auc, dlib_auc = ranking_auc(reid, labels), ranking_auc(dlib, labels)
    assert reid_auc > 0.99
    assert reid_auc >= dlib_auc


def test_faces_of_an_image_embed_in_one_batch_as_one_by_one(analyzer: FaceAnalyzer, faces_data_dir: Path) -> None:
    recognizer = recognizer_of(analyzer)
    rgb = np.asarray(Image.open(faces_data_dir / GROUP_PHOTO).convert("RGB"))
    faces = analyzer.analyze_path(faces_data_dir / GROUP_PHOTO).faces
    chips = [recognizer.align(rgb, Detection(np.array(f.bbox), np.array(f.landmarks), f.det_score)) for f in faces]
    assert len(chips) == 4
    together = recognizer.embed(chips)
    np.testing.assert_allclose(together, np.concatenate([recognizer.embed([chip]) for chip in chips]), atol=1e-5)
    np.testing.assert_allclose(together, np.stack([f.embedding for f in faces]), atol=1e-5)
    assert recognizer.embed([]).shape == (0, 256)


def test_chip_is_intels_template_crop_fed_as_bgr(analyzer: FaceAnalyzer, models_dir: Path,
                                                 faces_data_dir: Path) -> None:
    """The embedding equals OpenVINO's own output on the template-aligned chip with its channels
    reversed (RGB to BGR), computed here without the recogniser."""
    rgb = np.asarray(Image.open(faces_data_dir / PORTRAIT).convert("RGB"))
    (face,) = analyzer.analyze(encode(Image.fromarray(rgb), fmt="PNG")).faces
    landmarks = np.array(face.landmarks)
    mapped = np.c_[landmarks, np.ones(5)] @ similarity_transform(landmarks, TEMPLATE).T
    assert np.abs(mapped - TEMPLATE).max() < 8  # five points, four degrees of freedom, a slightly turned head
    chip = warp_to_template(rgb, landmarks, TEMPLATE, CHIP_SIZE)
    network = ov.Core().compile_model(str(models_dir / PACKS["yunet-reid256"].recognizer_files[0].path), "CPU")

    def reference(pixels: np.ndarray) -> np.ndarray:
        vector = network(pixels.transpose(2, 0, 1)[None].astype(np.float32))[0].reshape(-1)
        return vector / np.linalg.norm(vector)

    np.testing.assert_allclose(face.embedding, reference(chip[..., ::-1]), atol=1e-4)
    assert float(face.embedding @ reference(chip)) < 0.999  # RGB would be a different embedding


def test_int8_pack_gives_embeddings_close_to_fp16(analyzer: FaceAnalyzer, int8_analyzer: FaceAnalyzer,
                                                  faces_data_dir: Path) -> None:
    fp16 = analyzer.analyze_path(faces_data_dir / GROUP_PHOTO).faces
    int8 = int8_analyzer.analyze_path(faces_data_dir / GROUP_PHOTO).faces
    assert [f.bbox for f in fp16] == [f.bbox for f in int8]  # same detector, same faces
    assert {f.model for f in int8} == {"yunet-reid256-int8"} and int8_analyzer.embedding_dim == 256
    similarity = np.stack([f.embedding for f in int8]) @ np.stack([f.embedding for f in fp16]).T
    assert np.all(np.diag(similarity) > 0.9)
    assert list(similarity.argmax(axis=1)) == list(range(len(fp16)))  # each face nearest its own FP16 twin
    assert not np.allclose(np.diag(similarity), 1.0, atol=1e-4)  # really the other weights


def build_reid_like(path: Path, outputs: int) -> Path:
    """A network with Intel's input ([N, 3, 128, 128]) and an [N, outputs, 1, 1] output."""
    weights = np.random.default_rng(outputs).normal(0, 0.1, (outputs, 3, 1, 1)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("GlobalAveragePool", ["0"], ["pooled"]),
         helper.make_node("Conv", ["pooled", "w"], ["658"], kernel_shape=[1, 1])],
        "reid_like",
        [helper.make_tensor_value_info("0", TensorProto.FLOAT, [1, 3, CHIP_SIZE, CHIP_SIZE])],
        [helper.make_tensor_value_info("658", TensorProto.FLOAT, [1, outputs, 1, 1])],
        [numpy_helper.from_array(weights, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def test_a_network_without_256_outputs_is_refused_at_load(tmp_path: Path) -> None:
    accepted = IntelReidRecognizer(build_reid_like(tmp_path / "reid_256.onnx", 256), 256, threads=1)
    assert accepted.embed([np.full((CHIP_SIZE, CHIP_SIZE, 3), 100, np.uint8)] * 2).shape == (2, 256)
    wrong = build_reid_like(tmp_path / "reid_128.onnx", 128)
    with pytest.raises(ModelFilesError, match=rf"model file {wrong} outputs \[\?,128,1,1\] per batch, "
                                              r"not 256 numbers per face: .* \(refused\)"):
        IntelReidRecognizer(wrong, 256, threads=1)
    as_ir = tmp_path / "ir" / "reid_128.xml"  # the same network as an OpenVINO IR (.xml + .bin)
    ov.save_model(ov.convert_model(wrong), as_ir)
    with pytest.raises(ModelFilesError, match=r"reid_128\.xml outputs \[\?,128,1,1\]"):
        IntelReidRecognizer(as_ir, 256, threads=1)
    garbage = tmp_path / "garbage.xml"
    garbage.write_text("<net>not a network")
    with pytest.raises(ModelFilesError, match=rf"model file {garbage} cannot run as a face recogniser"):
        IntelReidRecognizer(garbage, 256, threads=1)


def test_a_pack_with_a_wrong_network_fails_at_load_not_at_store(tmp_path: Path, models_dir: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Through the analyser: the files pass their (test) checksums, the network is still refused."""
    ir = tmp_path / "models" / "test_reid" / "net.xml"
    ov.save_model(ov.convert_model(build_reid_like(tmp_path / "reid_128.onnx", 128)), ir)
    detector = PACKS["yunet-reid256"].detector_file
    (tmp_path / "models" / detector.path).parent.mkdir(parents=True)
    (tmp_path / "models" / detector.path).symlink_to(models_dir / detector.path)
    files = tuple(ModelFile(f"test_reid/{p.name}", sha256_of(p), "model_dir") for p in (ir, ir.with_suffix(".bin")))
    monkeypatch.setitem(PACKS, "test-reid", dataclasses.replace(PACKS["yunet-reid256"], id="test-reid",
                                                                recognizer_files=files))
    analyzer = FaceAnalyzer(settings_for(tmp_path / "models", MODEL_PACK="test-reid"))
    with pytest.raises(ModelFilesError, match=r"net\.xml outputs \[\?,128,1,1\] per batch, not 256 numbers"):
        analyzer.load()
    assert analyzer.model_loaded is False


def test_missing_or_corrupt_weights_name_the_file_and_the_fetch_command(tmp_path: Path, models_dir: Path) -> None:
    pack = PACKS["yunet-reid256"]
    for model_file in pack.files:
        (tmp_path / model_file.path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / model_file.path).symlink_to(models_dir / model_file.path)
    weights = tmp_path / pack.recognizer_files[1].path
    weights.unlink()
    with pytest.raises(ModelFilesError, match=(
            rf"model file {weights} is missing \(pack yunet-reid256, expected sha256 241229ca\w+\); "
            r"fetch it with: facecluster models fetch yunet-reid256")):
        verify_pack(pack, tmp_path)
    weights.write_bytes((models_dir / pack.recognizer_files[1].path).read_bytes()[:100_000])  # cut short
    with pytest.raises(ModelFilesError, match=(
            rf"model file {weights} has sha256 \w+, expected 241229ca\w+ \(pack yunet-reid256\); "
            r"fetch it with: facecluster models fetch yunet-reid256")):
        FaceAnalyzer(settings_for(tmp_path)).analyze(b"never read")


def test_a_face_too_small_to_align_is_dropped_with_its_reason(models_dir: Path, faces_data_dir: Path,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    """With no minimum face size, a face ~10 px wide is still detected; its chip would be 8x+
    interpolation, so it is counted and logged, not embedded. The same face at 120 px is kept."""
    analyzer = FaceAnalyzer(settings_for(models_dir, MIN_FACE_SIZE="1"))
    photo = Image.open(faces_data_dir / PORTRAIT).convert("RGB")

    def shrunk(width: int) -> bytes:
        return encode(photo.resize((width, round(photo.height * width / photo.width)), Image.Resampling.LANCZOS),
                      fmt="PNG")

    kept = analyzer.analyze(shrunk(120))
    assert len(kept.faces) == 1 and kept.dropped == {}
    with caplog.at_level("INFO", logger="shared.face_analysis.analyzer"):
        tiny = analyzer.analyze(shrunk(40))
    assert tiny.faces == [] and tiny.dropped == {"too_small_to_align": 1}
    assert any(getattr(r, "reason", None) == "too_small_to_align" and "magnified" in r.getMessage()
               for r in caplog.records)


@pytest.mark.parametrize(("landmarks", "reason"), [
    (np.full((5, 2), 50.0), "too_small_to_align"),
    (TEMPLATE / 20 + 40, "too_small_to_align"),  # a face whose points span ~1.5 px
    (np.where(np.eye(5, 2, dtype=bool), np.nan, TEMPLATE), "landmarks_not_finite"),
])
def test_degenerate_landmarks_give_no_chip(landmarks: np.ndarray, reason: str) -> None:
    rgb = np.full((200, 200, 3), 120, dtype=np.uint8)
    with pytest.raises(AlignmentError) as caught:
        warp_to_template(rgb, landmarks, TEMPLATE, CHIP_SIZE)
    assert caught.value.reason == reason
    assert warp_to_template(rgb, TEMPLATE / 2 + 40, TEMPLATE, CHIP_SIZE).shape == (CHIP_SIZE, CHIP_SIZE, 3)
