"""Does a speed change keep the faces? This checkout's pipeline vs another git revision's, same photos.

    .venv/bin/python bench/equivalence.py [--against main] [--event-images 16] [--faces-per-image 6]

Both revisions analyse the benchmark's event photos and the dev images (bench/face_analysis.py
builds them), each in its own process (the revisions share a package name). Every labelled face
found by the other revision must be found here too, matched by box IoU >= 0.5, and its
embedding must have cosine >= 0.999 to the other's: a faster decode, detector or thumbnail must
not move the embeddings clustering compares. Exits 1 when either does not hold.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
MIN_COSINE = 0.999
MIN_IOU = 0.5


def analyse(root: Path, paths: list[str], models_dir: str, out: Path) -> None:
    """Faces of ``paths`` by the pipeline in ``root``, saved as boxes and embeddings per image."""
    sys.path.insert(0, str(root))
    from shared.face_analysis import FaceAnalyzer
    from shared.settings import Settings

    analyzer = FaceAnalyzer(Settings.from_env({"FACECLUSTER_MODEL_DIR": models_dir}))
    faces = [analyzer.analyze_path(path).faces for path in paths]
    np.savez(out, **{f"boxes_{i}": np.array([f.bbox for f in found]).reshape(-1, 4) for i, found in enumerate(faces)},
             **{f"embeddings_{i}": np.array([f.embedding for f in found]).reshape(len(found), -1)
                for i, found in enumerate(faces)})


def best_match(box: np.ndarray, boxes: np.ndarray) -> tuple[int, float]:
    """Index and IoU of the box in ``boxes`` overlapping ``box`` most (-1 when there is none)."""
    if not len(boxes):
        return -1, 0.0
    inter_w = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    inter_h = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    inter = inter_w * inter_h
    union = (box[2] - box[0]) * (box[3] - box[1]) + (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) - inter
    ious = inter / union
    return int(ious.argmax()), float(ious.max())


def compare(images: list[tuple[str, list[list[float]]]], ours: np.lib.npyio.NpzFile,
            theirs: np.lib.npyio.NpzFile) -> dict[str, float]:
    """Over the labelled faces the other revision found: how many we find, and the worst cosine."""
    found, missed, cosines = 0, 0, []
    for index, (_, labelled) in enumerate(images):
        for label in np.array(labelled, dtype=np.float64).reshape(-1, 4):
            their_face, their_iou = best_match(label, theirs[f"boxes_{index}"])
            if their_iou < 0.4:  # the other revision missed it too: nothing to compare
                continue
            our_face, our_iou = best_match(theirs[f"boxes_{index}"][their_face], ours[f"boxes_{index}"])
            if our_iou < MIN_IOU:
                missed += 1
                continue
            found += 1
            cosines.append(float(ours[f"embeddings_{index}"][our_face] @ theirs[f"embeddings_{index}"][their_face]))
    return {"compared": found, "missed": missed, "below_min_cosine": sum(c < MIN_COSINE for c in cosines),
            "min_cosine": min(cosines, default=1.0),
            "mean_cosine": float(np.mean(cosines)) if cosines else 1.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", default="main", help="the git revision to compare with")
    parser.add_argument("--event-images", type=int, default=16)
    parser.add_argument("--faces-per-image", type=int, default=6)
    parser.add_argument("--analyse", nargs=4, metavar=("ROOT", "PATHS", "MODELS", "OUT"),
                        help=argparse.SUPPRESS)  # in a child, which imports only ROOT's package
    args = parser.parse_args()
    if args.analyse:
        root, paths, models_dir, out = args.analyse
        analyse(Path(root), json.loads(Path(paths).read_text()), models_dir, Path(out))
        return
    sys.path.insert(0, str(REPO_ROOT))
    from bench.face_analysis import MODELS_DIR, build_event_set, dev_images

    images = build_event_set(args.event_images, args.faces_per_image) + dev_images()
    with tempfile.TemporaryDirectory() as temp:
        other = Path(temp) / "other"
        other.mkdir()
        archive = subprocess.run(["git", "-C", str(REPO_ROOT), "archive", args.against], check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(other)], input=archive, check=True)
        paths = Path(temp) / "paths.json"
        paths.write_text(json.dumps([path for path, _ in images]))
        results = {}
        for name, root in (("ours", REPO_ROOT), ("theirs", other)):
            out = Path(temp) / f"{name}.npz"
            subprocess.run([sys.executable, __file__, "--analyse", str(root), str(paths), str(MODELS_DIR), str(out)],
                           check=True)
            results[name] = np.load(out)
        summary = compare(images, results["ours"], results["theirs"])
    print(json.dumps({"against": args.against, **summary}))
    if summary["missed"] or summary["min_cosine"] < MIN_COSINE:
        sys.exit(1)


if __name__ == "__main__":
    main()
