"""``facecluster cluster-photos DIR --out FILE.jsonl``: face analysis and clustering, no database.

Runs the detection pipeline on every image under DIR and the batch job's clustering code
(:func:`shared.clustering.cluster_event.cluster_faces`, same per-model defaults and overrides) on
the result, and writes one JSON line per face::

    {"path": "<relative to DIR>", "bbox": [x1, y1, x2, y2], "score": 0.98, "quality": 0.81, "person": 3}

``person`` is null for unassigned faces (noise, or below the quality bar). With
``--suggestions SUGG.jsonl`` it also writes the merge suggestions the review page would offer,
one line per pair, best first: ``{"a": <person>, "b": <person>, "score": 0.83}`` with the person
numbers of FILE.jsonl (the rule of :mod:`shared.clustering.suggestions`, every pair above the
model's threshold). Used to measure clustering on labelled folders and by people trying the
project on their own photos.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from shared.clustering.cluster_event import cluster_faces
from shared.clustering.params import params_for_model
from shared.clustering.suggestions import min_similarity, suggest_merges
from shared.face_analysis import FaceAnalyzer, ImageError
from shared.settings import Settings, get_settings

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".heic", ".heif"}


def image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


@dataclass
class FolderFaces:
    """Every face of a folder's images, in file order, and how many images could not be read."""

    records: list[dict[str, object]] = field(default_factory=list)  # path, bbox, score, quality
    embeddings: list[np.ndarray] = field(default_factory=list)
    quality: list[float] = field(default_factory=list)
    photo: list[int] = field(default_factory=list)
    failed: int = 0

    def cluster(self, settings: Settings) -> np.ndarray:
        """Person label per face (-1: unassigned), by the batch job's clustering and the model's defaults."""
        if not self.records:
            return np.zeros(0, dtype=np.int64)
        vectors = np.stack(self.embeddings)
        params = params_for_model(settings.model_pack, settings, vectors.shape[1])
        return cluster_faces(vectors, np.array(self.quality), np.array(self.photo), params)


def analyse_folder(analyzer: FaceAnalyzer, folder: Path) -> FolderFaces:
    """Analyse every image under ``folder``; unreadable ones are reported on stderr and skipped."""
    faces = FolderFaces()
    for number, path in enumerate(image_files(folder)):
        try:
            analysis = analyzer.analyze_path(path)
        except (ImageError, OSError) as exc:
            faces.failed += 1
            print(f"{path}: skipped: {exc}", file=sys.stderr)
            continue
        for face in analysis.faces:
            faces.records.append({"path": str(path.relative_to(folder)), "bbox": [round(v, 1) for v in face.bbox],
                                  "score": round(face.det_score, 4), "quality": round(face.quality, 4)})
            faces.embeddings.append(np.asarray(face.embedding, dtype=np.float32))
            faces.quality.append(face.quality)
            faces.photo.append(number)
    return faces


def command_settings(args: argparse.Namespace) -> Settings:
    """The settings with the command line's pack and HDBSCAN overrides."""
    overrides = {"model_pack": args.pack, "min_cluster_size": args.min_cluster_size,
                 "min_samples": args.min_samples, "cluster_epsilon": args.epsilon}
    return get_settings().model_copy(update={k: v for k, v in overrides.items() if v is not None})


def _cluster_photos(args: argparse.Namespace) -> int:
    settings = command_settings(args)
    folder = Path(args.dir)
    if not folder.is_dir():
        print(f"facecluster: {folder} is not a directory", file=sys.stderr)
        return 2
    analyzer = FaceAnalyzer(settings)
    analyzer.load()
    try:
        faces = analyse_folder(analyzer, folder)
    finally:
        analyzer.close()
    labels = faces.cluster(settings)
    suggestions = []
    if faces.records and args.suggestions:
        vectors = np.stack(faces.embeddings)
        suggestions = suggest_merges(vectors, labels, np.array(faces.photo),
                                     min_similarity(settings.model_pack, vectors.shape[1]), limit=None)
    with open(args.out, "w") as out:
        for record, label in zip(faces.records, labels.tolist(), strict=True):
            out.write(json.dumps({**record, "person": label if label >= 0 else None}) + "\n")
    if args.suggestions:
        with open(args.suggestions, "w") as out:
            for pair in suggestions:
                out.write(json.dumps({"a": pair.a, "b": pair.b, "score": pair.score}) + "\n")
    persons = len(set(labels[labels >= 0].tolist()))
    print(f"{len(faces.records)} faces, {persons} persons, {int((labels < 0).sum())} unassigned -> {args.out}"
          + (f" ({faces.failed} images skipped)" if faces.failed else ""), file=sys.stderr)
    return 0


def add_clustering_options(parser: argparse.ArgumentParser) -> None:
    """The pack and HDBSCAN overrides both photo-folder commands take."""
    parser.add_argument("--pack", help="model pack (default: MODEL_PACK)")
    parser.add_argument("--min-cluster-size", type=int, help="HDBSCAN min_cluster_size (default: per model)")
    parser.add_argument("--min-samples", type=int, help="HDBSCAN min_samples (default: per model)")
    parser.add_argument("--epsilon", type=float, help="HDBSCAN cluster_selection_epsilon (default: per model)")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("cluster-photos",
                                   help="detect and cluster the faces of a photo folder (no database)")
    parser.add_argument("dir", metavar="DIR", help="folder of images (searched recursively)")
    parser.add_argument("--out", required=True, metavar="FILE.jsonl", help="where to write one JSON line per face")
    parser.add_argument("--suggestions", metavar="SUGG.jsonl",
                        help="also write the merge suggestions, one JSON line per pair of persons, best first")
    add_clustering_options(parser)
    parser.set_defaults(handler=_cluster_photos)
