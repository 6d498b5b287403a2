"""``facecluster cluster-photos DIR --out FILE.jsonl``: face analysis and clustering, no database.

Runs the detection pipeline on every image under DIR and the batch job's clustering code
(:func:`shared.clustering.service.cluster_faces`, same per-model defaults and overrides) on
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
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np

from shared.clustering.params import params_for_model
from shared.clustering.service import cluster_faces
from shared.clustering.suggestions import min_similarity, suggest_merges
from shared.face_analysis import FaceAnalyzer, ImageError
from shared.settings import get_settings

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".heic", ".heif"}


def image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _cluster_photos(args: argparse.Namespace) -> int:
    settings = get_settings()
    overrides = {"model_pack": args.pack, "min_cluster_size": args.min_cluster_size,
                 "min_samples": args.min_samples, "cluster_epsilon": args.epsilon}
    settings = dataclasses.replace(settings, **{k: v for k, v in overrides.items() if v is not None})
    folder = Path(args.dir)
    if not folder.is_dir():
        print(f"facecluster: {folder} is not a directory", file=sys.stderr)
        return 2
    analyzer = FaceAnalyzer(settings)
    analyzer.load()
    records: list[dict[str, object]] = []
    embeddings: list[np.ndarray] = []
    quality: list[float] = []
    photo: list[int] = []
    failed = 0
    try:
        for number, path in enumerate(image_files(folder)):
            try:
                analysis = analyzer.analyze_path(path)
            except (ImageError, OSError) as exc:
                failed += 1
                print(f"{path}: skipped: {exc}", file=sys.stderr)
                continue
            for face in analysis.faces:
                records.append({"path": str(path.relative_to(folder)), "bbox": [round(v, 1) for v in face.bbox],
                                "score": round(face.det_score, 4), "quality": round(face.quality, 4)})
                embeddings.append(np.asarray(face.embedding, dtype=np.float32))
                quality.append(face.quality)
                photo.append(number)
    finally:
        analyzer.close()
    labels = np.zeros(0, dtype=np.int64)
    suggestions = []
    if records:
        vectors = np.stack(embeddings)
        params = params_for_model(settings.model_pack, settings, vectors.shape[1])
        labels = cluster_faces(vectors, np.array(quality), np.array(photo), params)
        if args.suggestions:
            suggestions = suggest_merges(vectors, labels, np.array(photo),
                                         min_similarity(settings.model_pack, vectors.shape[1]), limit=None)
    with open(args.out, "w") as out:
        for record, label in zip(records, labels.tolist(), strict=True):
            out.write(json.dumps({**record, "person": label if label >= 0 else None}) + "\n")
    if args.suggestions:
        with open(args.suggestions, "w") as out:
            for pair in suggestions:
                out.write(json.dumps({"a": pair.a, "b": pair.b, "score": pair.score}) + "\n")
    persons = len(set(labels[labels >= 0].tolist()))
    print(f"{len(records)} faces, {persons} persons, {int((labels < 0).sum())} unassigned -> {args.out}"
          + (f" ({failed} images skipped)" if failed else ""), file=sys.stderr)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("cluster-photos",
                                   help="detect and cluster the faces of a photo folder (no database)")
    parser.add_argument("dir", metavar="DIR", help="folder of images (searched recursively)")
    parser.add_argument("--out", required=True, metavar="FILE.jsonl", help="where to write one JSON line per face")
    parser.add_argument("--suggestions", metavar="SUGG.jsonl",
                        help="also write the merge suggestions, one JSON line per pair of persons, best first")
    parser.add_argument("--pack", help="model pack (default: MODEL_PACK)")
    parser.add_argument("--min-cluster-size", type=int, help="HDBSCAN min_cluster_size (default: per model)")
    parser.add_argument("--min-samples", type=int, help="HDBSCAN min_samples (default: per model)")
    parser.add_argument("--epsilon", type=float, help="HDBSCAN cluster_selection_epsilon (default: per model)")
    parser.set_defaults(handler=_cluster_photos)
