"""Selfie search measured: photos returned for one selfie per identity, and search latency.

    .venv/bin/python bench/selfie_search.py [--source yunet-reid256|yunet-dlib] [--sweep]

Quality: per set (``dev``, ``dev2``, ``groups``; ``face_dataset.py``), for every identity seen
on at least two photos, its first photo (path order) whose labelled face passes the quality
bar is the selfie, and every *other* photo of the set is the event, clustered by the product
(``cluster_faces``, per-model defaults). The selfie is matched by the product's rule
(``shared.selfie.match``) and the photos of the matched person and unclustered faces are
returned. Precision = returned photos the identity is on / returned photos; recall = photos
of the identity found / photos of the identity in the event (labelled faces detected).

``--sweep``: every (person distance, margin, face distance) of a grid, per set, to choose the
per-model values precision first (``shared/selfie/params.py``).
``--leave-one-out``: the person distance chosen on two sets (precision >= 0.99 on both, the
middle of the plateau of best recall), scored on the third (people the choice has not seen).

"not clustered yet": the same trials with every face unclustered (an event searched before its
first clustering run): only the per-face distance decides. Latency: ``bench/selfie_latency.py``.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from face_dataset import SETS, FaceSet, load_face_set

from shared.clustering.cluster_event import cluster_faces
from shared.clustering.params import model_defaults
from shared.selfie.match import matched_rows
from shared.selfie.params import SelfieParams, selfie_params


@dataclass(frozen=True)
class Trial:
    """One selfie against its event: the event's faces clustered, and the truth."""

    identity: str
    selfie: np.ndarray
    event: FaceSet
    labels: np.ndarray
    truth: set[str]  # event photos the identity is on


def trials(faces: FaceSet, model: str) -> list[Trial]:
    """One trial per identity on two photos or more (clustering each event once)."""
    clustering = model_defaults(model, faces.embeddings.shape[1])
    photos: dict[str, list[int]] = defaultdict(list)
    for row, identity in enumerate(faces.identities):
        if identity is not None:
            photos[identity].append(row)
    made = []
    for identity, rows in sorted(photos.items()):
        usable = sorted((faces.paths[r], r) for r in rows if faces.quality[r] >= clustering.min_quality)
        if len({faces.paths[r] for r in rows}) < 2 or not usable:
            continue
        selfie_path, selfie_row = usable[0]
        event = faces.subset(np.array([p != selfie_path for p in faces.paths]))
        labels = cluster_faces(event.embeddings, event.quality, event.image_ids, clustering)
        truth = {p for p, i in zip(event.paths, event.identities, strict=True) if i == identity}
        made.append(Trial(identity, faces.embeddings[selfie_row], event, labels, truth))
    return made


def returned_photos(trial: Trial, params: SelfieParams, min_quality: float) -> set[str]:
    """Photos the product returns for the trial's selfie."""
    rows = matched_rows(trial.selfie, trial.event.embeddings, trial.labels, trial.event.quality, params, min_quality)
    return {trial.event.paths[row] for row in rows}


def unclustered(made: list[Trial]) -> list[Trial]:
    """The same trials before the event is clustered: every face loose (only ``face_distance`` decides)."""
    return [replace(trial, labels=np.full_like(trial.labels, -1)) for trial in made]


def score(made: list[Trial], params: SelfieParams, min_quality: float) -> tuple[float, float, int]:
    """(precision, recall, photos returned) over all the set's selfies."""
    returned = correct = relevant = 0
    for trial in made:
        photos = returned_photos(trial, params, min_quality)
        returned += len(photos)
        correct += len(photos & trial.truth)
        relevant += len(trial.truth)
    return (correct / returned if returned else 1.0), (correct / relevant if relevant else 1.0), returned


def sweep(by_set: dict[str, list[Trial]], base: SelfieParams, min_quality: float) -> None:
    person = np.round(np.arange(base.person_distance - 0.15, base.person_distance + 0.151, 0.03), 3)
    margins = (0.0, 0.02, 0.04, 0.06, 0.08)
    face = np.round(np.arange(base.face_distance - 0.15, base.face_distance + 0.151, 0.03), 3)
    print("person_distance margin face_distance | " + " | ".join(f"{name} P R" for name in by_set))
    for p, m, f in itertools.product(person, margins, face):
        params = SelfieParams(float(p), m, float(f))
        cells = [score(made, params, min_quality) for made in by_set.values()]
        print(f"{p:.3f} {m:.2f} {f:.3f} | " + " | ".join(f"{pr:.3f} {rc:.3f}" for pr, rc, _ in cells))


def leave_one_out(by_set: dict[str, list[Trial]], base: SelfieParams, min_quality: float) -> None:
    grid = [float(d) for d in np.round(np.arange(base.person_distance - 0.15, base.person_distance + 0.151, 0.03), 3)]
    scores = {name: {d: score(made, replace(base, person_distance=d), min_quality) for d in grid}
              for name, made in by_set.items()}
    print("| held-out set | plateau on the other two | chosen | held-out precision | held-out recall |")
    print("|---|---|---|---|---|")
    for held in by_set:
        others = [name for name in by_set if name != held]
        precise = [d for d in grid if all(scores[name][d][0] >= 0.99 for name in others)]
        best = max(min(scores[name][d][1] for name in others) for d in precise)
        plateau = [d for d in precise if min(scores[name][d][1] for name in others) >= best - 0.005]
        chosen = plateau[len(plateau) // 2]
        precision, recall, _ = scores[held][chosen]
        print(f"| {held} | {plateau[0]:.2f}-{plateau[-1]:.2f} | {chosen:.2f} | {precision:.3f} | {recall:.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default="yunet-reid256", help="model pack id (shared.face_analysis)")
    parser.add_argument("--sweep", action="store_true", help="score a grid of distances per set")
    parser.add_argument("--leave-one-out", action="store_true", help="choose on two sets, score the third")
    args = parser.parse_args()
    params = selfie_params(args.source)
    by_set = {}
    for name in SETS:
        faces = load_face_set(args.source, name)
        min_quality = model_defaults(args.source, faces.embeddings.shape[1]).min_quality
        by_set[name] = trials(faces, args.source)
    print(f"{args.source}: {params}")
    print("| set, event | selfies | photos returned | precision | recall |")
    print("|---|---|---|---|---|")
    for name, made in by_set.items():
        for when, event in (("clustered", made), ("not clustered yet", unclustered(made))):
            precision, recall, returned = score(event, params, min_quality)
            print(f"| {name}, {when} | {len(made)} | {returned} | {precision:.3f} | {recall:.3f} |")
    if args.sweep:
        sweep(by_set, params, min_quality)
        print("not clustered yet (face distance alone):")
        sweep({name: unclustered(made) for name, made in by_set.items()}, params, min_quality)
    if args.leave_one_out:
        leave_one_out(by_set, params, min_quality)


if __name__ == "__main__":
    main()
