"""``facecluster search-photos EVENT_DIR SELFIE... --out FILE.jsonl``: selfie search, no database.

Analyses and clusters EVENT_DIR once, exactly as ``cluster-photos`` does, then matches each
selfie with the endpoint's rule (:mod:`shared.selfie`) and writes one JSON line per (selfie,
matching photo)::

    {"selfie": "<the selfie path as given>", "path": "<photo relative to EVENT_DIR>", "score": 0.83}

``score`` is the cosine similarity of the selfie to its nearest face on that photo. A selfie
that cannot be used (unreadable, no face, several faces, too small, cut off, turned away,
blurred) is reported on stderr with its reason and the others still run; the exit status is
then 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from shared.clustering.params import params_for_model
from shared.commands.cluster_photos import FolderFaces, add_clustering_options, analyse_folder, command_settings
from shared.face_analysis import FaceAnalyzer, ImageError
from shared.selfie.checks import SelfieProblem, selfie_face
from shared.selfie.match import matched_rows, similarity
from shared.selfie.params import selfie_params


def photo_scores(selfie: np.ndarray, faces: FolderFaces, labels: np.ndarray, min_quality: float,
                 model: str) -> dict[str, float]:
    """Matching photo (relative path) → similarity of the selfie to its nearest returned face there."""
    rows = matched_rows(selfie, np.stack(faces.embeddings), labels, np.array(faces.quality), selfie_params(model),
                        min_quality)
    scores: dict[str, float] = {}
    for row, distance in rows.items():
        path = str(faces.records[row]["path"])
        scores[path] = max(scores.get(path, -1.0), similarity(distance))
    return scores


def _search_photos(args: argparse.Namespace) -> int:
    settings = command_settings(args)
    folder = Path(args.event_dir)
    if not folder.is_dir():
        print(f"facecluster: {folder} is not a directory", file=sys.stderr)
        return 2
    analyzer = FaceAnalyzer(settings)
    analyzer.load()
    problems = 0
    try:
        faces = analyse_folder(analyzer, folder)
        labels = faces.cluster(settings)
        min_quality = params_for_model(settings.model_pack, settings, analyzer.embedding_dim).min_quality
        with open(args.out, "w") as out:
            for selfie in args.selfies:
                try:
                    face = selfie_face(analyzer.analyze_path(selfie), min_quality)
                except (ImageError, OSError) as exc:
                    problems += 1
                    print(f"{selfie}: unreadable: {exc}", file=sys.stderr)
                    continue
                except SelfieProblem as problem:
                    problems += 1
                    print(f"{selfie}: {problem}" + (f" {problem.faces}" if problem.faces else ""), file=sys.stderr)
                    continue
                scores = photo_scores(face.embedding, faces, labels, min_quality, settings.model_pack) \
                    if faces.records else {}
                for path, score in sorted(scores.items(), key=lambda item: (-item[1], item[0])):
                    out.write(json.dumps({"selfie": selfie, "path": path, "score": score}) + "\n")
                print(f"{selfie}: {len(scores)} photos", file=sys.stderr)
    finally:
        analyzer.close()
    return 1 if problems else 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("search-photos", help="find the photos of a folder each selfie is on (no database)")
    parser.add_argument("event_dir", metavar="EVENT_DIR", help="folder of event images (searched recursively)")
    parser.add_argument("selfies", metavar="SELFIE", nargs="+", help="photos of one person each")
    parser.add_argument("--out", required=True, metavar="FILE.jsonl", help="one JSON line per (selfie, photo)")
    add_clustering_options(parser)
    parser.set_defaults(handler=_search_photos)
