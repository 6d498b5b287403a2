"""The labelled evaluation faces of ``../shared/data/faces``, embedded and cached.

Every detection of an image is kept (labelled or not) because clustering sees all faces of an
event, and the faces that share an image carry the cannot-link constraint; only labelled faces
are scored. Two ways to get detections and embeddings:

* ``dlib-boxes``: the dataset's own boxes (they *are* dlib's CNN detector output, see the
  dataset README) → dlib's 5-point landmarks → ``get_face_chip`` → dlib's ResNet. Needs no
  project code; it is what clustering was developed against.
* a model pack id (``yunet-dlib`` ...): ``shared.face_analysis`` on every image, as the product
  runs; a detection is a labelled face when their IoU is ≥ 0.4.

Embeddings are cached under ``.facecluster/cache/`` keyed by source and image set, since
computing them takes minutes on two cores and the clustering experiments take seconds.
"""

from __future__ import annotations

import csv
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from shared.settings import REPO_ROOT

FACES_DIR = (REPO_ROOT.parent / "shared" / "data" / "faces").resolve()
CACHE_DIR = REPO_ROOT / ".facecluster" / "cache"
IOU_MATCH = 0.4


@dataclass(frozen=True)
class FaceSet:
    """Faces of a set of images: one row per detection."""

    paths: list[str]             # image path relative to the faces folder
    embeddings: np.ndarray       # (n, d) float32, L2-normalised
    quality: np.ndarray          # (n,) 0..1
    identities: list[str | None]  # None = not labelled (not scored)

    @property
    def image_ids(self) -> np.ndarray:
        """An integer per image: faces with equal ids share a photo (cannot-link)."""
        _, inverse = np.unique(np.array(self.paths), return_inverse=True)
        return inverse


@dataclass(frozen=True)
class LabelledBox:
    path: str
    box: tuple[float, float, float, float]
    identity: str | None


def labelled_boxes(include_groups: bool = True) -> list[LabelledBox]:
    """Every detection listed by the dataset (dev, and group photos), with its identity if labelled."""
    files = [FACES_DIR / "dev_faces.csv"] + ([FACES_DIR / "group_photos" / "faces.csv"] if include_groups else [])
    boxes: list[LabelledBox] = []
    for file in files:
        with open(file, newline="") as handle:
            for row in csv.DictReader(handle):
                box = tuple(float(row[k]) for k in ("x1", "y1", "x2", "y2"))
                boxes.append(LabelledBox(row["path"], box, row["identity"] or None))  # type: ignore[arg-type]
    return boxes


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _cache_file(source: str, include_groups: bool) -> Path:
    """One cache per source, image set and the detection settings that change which faces exist."""
    from shared.settings import get_settings

    settings = get_settings()
    detection = "" if source == "dlib-boxes" else (
        f"_det{settings.det_size[0]}x{settings.det_size[1]}_t{settings.detection_threshold or 'default'}")
    return CACHE_DIR / f"faces_{source}{detection}_{'dev+groups' if include_groups else 'dev'}.npz"


def load_face_set(source: str = "dlib-boxes", include_groups: bool = True) -> FaceSet:
    """The embedded faces, from the cache when present."""
    cache = _cache_file(source, include_groups)
    if cache.exists():
        data = np.load(cache, allow_pickle=False)
        identities = [str(i) or None for i in data["identities"]]
        return FaceSet(list(map(str, data["paths"])), data["embeddings"], data["quality"], identities)
    face_set = _embed_dlib_boxes(include_groups) if source == "dlib-boxes" else _embed_with_pack(source, include_groups)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, paths=np.array(face_set.paths), embeddings=face_set.embeddings, quality=face_set.quality,
             identities=np.array([i or "" for i in face_set.identities]))
    return face_set


def _load_rgb(path: Path) -> np.ndarray:
    from PIL import Image, ImageOps  # some dataset files are WebP, which dlib's loader cannot read

    with Image.open(path) as image:
        return np.ascontiguousarray(ImageOps.exif_transpose(image).convert("RGB"))


def _embed_dlib_boxes(include_groups: bool) -> FaceSet:
    import dlib  # only this development path needs dlib directly

    models = Path(importlib.util.find_spec("face_recognition_models").submodule_search_locations[0]) / "models"
    landmarks = dlib.shape_predictor(str(models / "shape_predictor_5_face_landmarks.dat"))
    recogniser = dlib.face_recognition_model_v1(str(models / "dlib_face_recognition_resnet_model_v1.dat"))
    boxes = labelled_boxes(include_groups)
    images: dict[str, np.ndarray] = {}
    embeddings = []
    for item in boxes:
        if item.path not in images:
            images = {item.path: _load_rgb(FACES_DIR / item.path)}
        image = images[item.path]
        rect = dlib.rectangle(*(round(v) for v in item.box))
        chip = dlib.get_face_chip(image, landmarks(image, rect), size=150, padding=0.25)
        vector = np.array(recogniser.compute_face_descriptor(chip), dtype=np.float32)
        embeddings.append(vector / np.linalg.norm(vector))
    return FaceSet([b.path for b in boxes], np.stack(embeddings), np.ones(len(boxes), dtype=np.float32),
                   [b.identity for b in boxes])


def _embed_with_pack(pack: str, include_groups: bool) -> FaceSet:
    """Run the product's face analysis on every image; label detections by IoU with the dataset boxes."""
    from dataclasses import replace

    from shared.face_analysis import get_analyzer
    from shared.settings import get_settings

    analyzer = get_analyzer(replace(get_settings(), model_pack=pack))
    by_image: dict[str, list[LabelledBox]] = {}
    for item in labelled_boxes(include_groups):
        by_image.setdefault(item.path, []).append(item)
    paths, embeddings, quality, identities = [], [], [], []
    for path, truth in by_image.items():
        for face in analyzer.analyze_path(FACES_DIR / path).faces:
            box = tuple(float(v) for v in face.bbox)
            best = max(truth, key=lambda t: iou(t.box, box))
            paths.append(path)
            embeddings.append(np.asarray(face.embedding, dtype=np.float32))
            quality.append(float(face.quality))
            identities.append(best.identity if iou(best.box, box) >= IOU_MATCH else None)
    return FaceSet(paths, np.stack(embeddings), np.array(quality, dtype=np.float32), identities)
