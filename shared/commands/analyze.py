"""``facecluster analyze IMAGE...``: the face-analysis pipeline on local files, one JSON line per face.

For checking a pack or a threshold on real photos without the service. An image that cannot
be analysed prints its error on stderr and the others go on; the exit status is 1 when any
image failed.
"""

from __future__ import annotations

import argparse
import json
import sys

from shared.face_analysis import FaceAnalyzer, ImageError
from shared.face_analysis.results import Face
from shared.settings import get_settings


def face_record(path: str, face: Face, with_embedding: bool) -> dict[str, object]:
    record: dict[str, object] = {
        "path": path,
        "bbox": [round(v, 1) for v in face.bbox],
        "landmarks": [[round(x, 1), round(y, 1)] for x, y in face.landmarks],
        "score": round(face.det_score, 4),
        "quality": round(face.quality, 4),
        "model": face.model,
    }
    if with_embedding:
        record["embedding"] = [round(float(v), 6) for v in face.embedding]
    return record


def _analyze(args: argparse.Namespace) -> int:
    settings = get_settings()
    if args.pack:
        settings = settings.model_copy(update={"model_pack": args.pack})
    analyzer = FaceAnalyzer(settings)
    analyzer.load()  # a missing model file is one operator error, not one error per image
    failed = 0
    try:
        for path in args.images:
            try:
                analysis = analyzer.analyze_path(path)
            except ImageError as exc:
                failed += 1
                print(f"{path}: {exc.code}: {exc}", file=sys.stderr)
                continue
            except OSError as exc:
                failed += 1
                print(f"{path}: unreadable: {exc.strerror or exc}", file=sys.stderr)
                continue
            for face in analysis.faces:
                print(json.dumps(face_record(path, face, args.embeddings)), flush=True)
    finally:
        analyzer.close()
    return 1 if failed else 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("analyze", help="detect and embed faces in local images (JSON lines)")
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="image files")
    parser.add_argument("--embeddings", action="store_true", help="include each face's embedding")
    parser.add_argument("--pack", help="model pack (default: MODEL_PACK)")
    parser.set_defaults(handler=_analyze)
