"""The evaluation faces of ``../shared/data/faces``, analysed by a model pack and cached.

Three sets, each clustered on its own as one event would be, and all together:

* ``dev``: 320 images of 40 identities (LFW, deepface, face-api.js crops);
* ``dev2``: 407 LFW images of 42 identities chosen for diversity (``dev2_groups.csv`` says which);
* ``groups``: 22 group and event photos with per-face labels.

Every detection of an image is kept (labelled or not) because clustering sees all faces of an
event, and the faces that share an image carry the cannot-link constraint. The product's face
analysis (``shared.face_analysis`` with the given pack) runs on every image; a detection is a
labelled face when it is the best IoU match (≥ 0.4, one detection per labelled box) of a box
the dataset labels. The dataset's other boxes are unlabelled faces, and so is every detection
matching no box: an unlabelled face is a person of its own when precision over *all* faces is
scored (background guests, faces cut by the border).

Embeddings are cached under ``.facecluster/cache/`` keyed by pack, set, detection settings and
the face-analysis code (a change to the quality score recomputes them), since analysing takes
minutes on two cores and the clustering experiments take seconds.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from shared.settings import REPO_ROOT

FACES_DIR = (REPO_ROOT.parent / "shared" / "data" / "faces").resolve()
CACHE_DIR = REPO_ROOT / ".facecluster" / "cache"
GROUPS_FILE = Path(__file__).resolve().parent / "dev2_groups.csv"
IOU_MATCH = 0.4
SETS = ("dev", "dev2", "groups")


@dataclass(frozen=True)
class FaceSet:
    """Faces of a set of images: one row per detection."""

    paths: list[str]              # image path relative to the faces folder
    embeddings: np.ndarray        # (n, d) float32, L2-normalised
    quality: np.ndarray           # (n,) 0..1
    identities: list[str | None]  # None = not labelled (its own identity when all faces are scored)
    boxes: np.ndarray             # (n, 4) x1 y1 x2 y2 in image pixels
    labelled_total: int           # labelled boxes in the dataset (found or not)
    photos: int                   # images in the set (with a face found or not)

    @property
    def image_ids(self) -> np.ndarray:
        """An integer per image: faces with equal ids share a photo (cannot-link)."""
        _, inverse = np.unique(np.array(self.paths), return_inverse=True)
        return inverse

    def subset(self, keep: np.ndarray) -> FaceSet:
        """The faces where ``keep`` is true (counts of the dataset unchanged)."""
        rows = np.flatnonzero(keep)
        return FaceSet([self.paths[i] for i in rows], self.embeddings[rows], self.quality[rows],
                       [self.identities[i] for i in rows], self.boxes[rows], self.labelled_total, self.photos)


def concat(sets: list[FaceSet]) -> FaceSet:
    """Several sets as one event (identities are unique across sets, so labels stay meaningful)."""
    return FaceSet([p for s in sets for p in s.paths], np.vstack([s.embeddings for s in sets]),
                   np.concatenate([s.quality for s in sets]), [i for s in sets for i in s.identities],
                   np.vstack([s.boxes for s in sets]), sum(s.labelled_total for s in sets),
                   sum(s.photos for s in sets))


@dataclass(frozen=True)
class LabelledBox:
    path: str
    box: tuple[float, float, float, float]
    identity: str | None


def _read_csv(name: str) -> list[dict[str, str]]:
    with open(FACES_DIR / name, newline="") as handle:
        return list(csv.DictReader(handle))


def _box(text: str) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = (float(v) for v in text.split())
    return x1, y1, x2, y2


def labelled_boxes(face_set: str) -> list[LabelledBox]:
    """Every face box the dataset lists for the set's images, with its identity when labelled."""
    if face_set in ("dev", "groups"):
        rows = _read_csv("dev_faces.csv" if face_set == "dev" else "group_photos/faces.csv")
        return [LabelledBox(r["path"], tuple(float(r[k]) for k in ("x1", "y1", "x2", "y2")),  # type: ignore[arg-type]
                            r["identity"] or None) for r in rows]
    if face_set == "dev2":
        # dev2_faces.csv lists every detection; the manifest names the labelled one per image.
        labelled = {r["path"]: (_box(r["labelled_face_box_x1y1x2y2"]), r["identity"])
                    for r in _read_csv("dev2_manifest.csv")}
        boxes = []
        for r in _read_csv("dev2_faces.csv"):
            box = _box(r["box_x1y1x2y2"])
            target, identity = labelled[r["path"]]
            boxes.append(LabelledBox(r["path"], box, identity if box == target else None))
        return boxes
    raise ValueError(f"unknown face set {face_set!r} (one of {', '.join(SETS)})")


def dev2_groups() -> dict[str, set[str]]:
    """Group name → dev2 identities (``dev2_groups.csv``; an identity may be in several groups)."""
    groups: dict[str, set[str]] = {}
    with open(GROUPS_FILE, newline="") as handle:
        for row in csv.DictReader(handle):
            for group in row["groups"].split(";"):
                groups.setdefault(group, set()).add(row["identity"])
    return groups


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def match_identities(detected: list[tuple[float, ...]], truth: list[LabelledBox]) -> list[str | None]:
    """Identity per detection: labelled boxes matched one-to-one, highest IoU first."""
    pairs = sorted(((iou(t.box, d), di, ti) for di, d in enumerate(detected) for ti, t in enumerate(truth)
                    if t.identity is not None), reverse=True)
    identities: list[str | None] = [None] * len(detected)
    used: set[int] = set()
    for overlap, di, ti in pairs:
        if overlap < IOU_MATCH:
            break
        if identities[di] is None and ti not in used:
            identities[di] = truth[ti].identity
            used.add(ti)
    return identities


def _code_version() -> str:
    """Digest of the face-analysis code: embeddings and quality are recomputed when it changes."""
    digest = hashlib.sha256()
    for file in sorted((REPO_ROOT / "shared" / "face_analysis").glob("*.py")):
        digest.update(file.read_bytes())
    return digest.hexdigest()[:10]


def _cache_file(source: str, face_set: str) -> Path:
    """One cache per pack, set, the detection settings that change which faces exist, and code."""
    from shared.settings import get_settings

    settings = get_settings()
    detection = f"det{settings.det_size[0]}x{settings.det_size[1]}_t{settings.detection_threshold or 'default'}"
    return CACHE_DIR / f"faces_{source}_{detection}_{face_set}_{_code_version()}.npz"


def load_face_set(source: str, face_set: str) -> FaceSet:
    """The analysed faces of one set, from the cache when present."""
    cache = _cache_file(source, face_set)
    if cache.exists():
        data = np.load(cache, allow_pickle=False)
        return FaceSet(list(map(str, data["paths"])), data["embeddings"], data["quality"],
                       [str(i) or None for i in data["identities"]], data["boxes"],
                       int(data["labelled_total"]), int(data["photos"]))
    faces = _analyse(source, face_set)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, paths=np.array(faces.paths), embeddings=faces.embeddings, quality=faces.quality,
             identities=np.array([i or "" for i in faces.identities]), boxes=faces.boxes,
             labelled_total=faces.labelled_total, photos=faces.photos)
    return faces


def _analyse(pack: str, face_set: str) -> FaceSet:
    """Run the product's face analysis on every image of the set and label its detections."""

    from shared.face_analysis import get_analyzer
    from shared.settings import get_settings

    analyzer = get_analyzer(get_settings().model_copy(update={"model_pack": pack}))
    truth = labelled_boxes(face_set)
    by_image: dict[str, list[LabelledBox]] = {}
    for item in truth:
        by_image.setdefault(item.path, []).append(item)
    paths, embeddings, quality, identities, boxes = [], [], [], [], []
    for path, listed in by_image.items():
        faces = analyzer.analyze_path(FACES_DIR / path).faces
        detected = [tuple(float(v) for v in face.bbox) for face in faces]
        identities.extend(match_identities(detected, listed))
        paths.extend([path] * len(faces))
        embeddings.extend(np.asarray(face.embedding, dtype=np.float32) for face in faces)
        quality.extend(float(face.quality) for face in faces)
        boxes.extend(detected)
    dim = analyzer.embedding_dim
    return FaceSet(paths, np.stack(embeddings) if embeddings else np.zeros((0, dim), np.float32),
                   np.array(quality, dtype=np.float32), identities, np.array(boxes, dtype=np.float32).reshape(-1, 4),
                   sum(t.identity is not None for t in truth), len(by_image))
