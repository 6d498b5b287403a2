"""Model packs: every file is checked by SHA-256 and a bad one is named with the command that fixes it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from shared.face_analysis import DEFAULT_PACK, PACKS, FaceAnalyzer, ModelFilesError, get_pack, gpu_available
from shared.face_analysis.packs import dlib_models_dir, sha256_of, verify_pack
from shared.face_analysis.sessions import providers
from tests.face_analysis.conftest import settings_for


def test_shared_models_match_the_pinned_checksums(models_dir: Path) -> None:
    sums = {}
    for folder in (models_dir, models_dir / "face-reidentification-retail-0095"):  # each SHA256SUMS is relative
        for line in (folder / "SHA256SUMS").read_text().splitlines():
            digest, path = line.split()
            sums[str((folder / path).relative_to(models_dir))] = digest
    pinned = {f.path: f.sha256 for pack in PACKS.values() for f in pack.files if f.location == "model_dir"}
    assert len(sums) == 7
    for path, digest in sums.items():
        assert pinned[path] == digest
    for pack_id in PACKS:
        if pack_id != "buffalo_l":
            assert len(verify_pack(get_pack(pack_id), models_dir)) == 3


def test_dlib_files_come_from_the_installed_package_and_never_the_68_point_model() -> None:
    folder = dlib_models_dir()
    assert folder is not None and (folder / "dlib_face_recognition_resnet_model_v1.dat").is_file()
    used = {f.path for pack in PACKS.values() for f in pack.files}
    assert "shape_predictor_68_face_landmarks.dat" not in used


def test_missing_file_names_it_its_checksum_and_the_fetch_command(tmp_path: Path) -> None:
    analyzer = FaceAnalyzer(settings_for(tmp_path))
    with pytest.raises(ModelFilesError) as caught:
        analyzer.analyze(b"not even read")
    assert str(caught.value) == (
        f"model file {tmp_path}/yunet_sface/face_detection_yunet_2023mar.onnx is missing (pack yunet-reid256, "
        "expected sha256 8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4); "
        "fetch it with: facecluster models fetch yunet-reid256")
    assert analyzer.model_loaded is False


def test_corrupt_file_is_refused(tmp_path: Path, models_dir: Path) -> None:
    target = tmp_path / "buffalo_sc" / "det_500m.onnx"
    target.parent.mkdir()
    shutil.copyfile(models_dir / "buffalo_m" / "det_2.5g.onnx", target)  # a valid model, the wrong one
    with pytest.raises(ModelFilesError, match=(
            r"det_500m.onnx has sha256 041f73f4\w+, expected 5e4447f5\w+ \(pack scrfd-dlib\); "
            r"fetch it with: facecluster models fetch scrfd-dlib")):
        verify_pack(get_pack("scrfd-dlib"), tmp_path)
    assert sha256_of(target) == get_pack("scrfd25-dlib").detector_file.sha256


def test_buffalo_l_is_described_but_its_files_are_not_here(models_dir: Path) -> None:
    pack = get_pack("buffalo_l")
    assert (pack.recognizer, pack.embedding_dim, pack.commercial_use) == ("arcface", 512, False)
    with pytest.raises(ModelFilesError, match=r"buffalo_l/det_10g\.onnx is missing .* models fetch buffalo_l"):
        verify_pack(pack, models_dir)


def test_unknown_pack_lists_the_known_ones() -> None:
    with pytest.raises(ModelFilesError,
                       match="unknown model pack 'nope': expected one of yunet-reid256, yunet-reid256-int8, "):
        get_pack("nope")


def test_only_the_yunet_packs_are_fit_for_commercial_use() -> None:
    assert [p.id for p in PACKS.values() if p.commercial_use] == ["yunet-reid256", "yunet-reid256-int8", "yunet-dlib"]
    assert get_pack(DEFAULT_PACK).commercial_use


def test_gpu_availability_follows_onnxruntime() -> None:
    import onnxruntime

    assert gpu_available() == ("CUDAExecutionProvider" in onnxruntime.get_available_providers())
    assert providers()[-1] == "CPUExecutionProvider"
