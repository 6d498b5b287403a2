"""Score clustering against identity labels on every face, per set and per group of people.

    .venv/bin/python bench/cluster_quality.py [--source yunet-reid256|yunet-dlib]
        [--baselines] [--sweep] [--leave-one-out]

Each set (``dev``, ``dev2``, ``groups``; see ``face_dataset.py``) is clustered on its own, as
one event, and all three together; ``dev2`` is also scored per group of people
(``dev2_groups.csv``). Metrics are in ``cluster_metrics.py``: labelled-face pairwise and
BCubed scores, BCubed precision over all detected faces, junk persons, same-photo pairs.

``--baselines``: the algorithms well-known photo apps use, each swept over its threshold and
shown at its best BCubed F on all sets together (DBSCAN with 3 faces as Immich, Chinese
whispers as dlib's example, average linkage, HDBSCAN with the guide's epsilon). Every method
sees the same faces: those above the quality bar.

``--sweep``: one parameter at a time around the defaults, per set: where the plateau is.
``--leave-one-out``: the merge/attach distances chosen on two sets (precision first, the middle
of the plateau), scored on the third (people the choice has not seen).
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cluster_metrics import HEADER, LABELLED_HEADER, Score, labelled_row, row, score
from face_dataset import SETS, FaceSet, concat, dev2_groups, labelled_boxes, load_face_set

from shared.clustering.cluster_event import cluster_faces
from shared.clustering.noise import choose_person
from shared.clustering.params import ClusteringParams, model_defaults

Method = Callable[[FaceSet], np.ndarray]


def ours(params: ClusteringParams) -> Method:
    """The product's clustering, quality bar included."""
    return lambda faces: cluster_faces(faces.embeddings, faces.quality, faces.image_ids, params)


def evaluate(faces: FaceSet, method: Method) -> Score:
    return score(method(faces), faces.identities, faces.image_ids, faces.labelled_total, faces.photos)


def per_set(sets: dict[str, FaceSet], method: Method) -> dict[str, Score]:
    return {name: evaluate(faces, method) for name, faces in sets.items()}


def _above_quality_bar(min_quality: float, method: Method) -> Method:
    """Run ``method`` on the faces that pass the quality bar; the others are unassigned.

    Every baseline gets this same input, so the comparison is between clustering algorithms.
    """
    def run(faces: FaceSet) -> np.ndarray:
        keep = faces.quality >= min_quality
        labels = np.full(len(keep), -1)
        if keep.sum() >= 2:
            labels[keep] = method(faces.subset(keep))
        return labels
    return run


def _dbscan(eps: float) -> Method:
    from sklearn.cluster import DBSCAN

    return lambda faces: DBSCAN(eps=eps, min_samples=3).fit_predict(faces.embeddings)


def _small_clusters_unassigned(labels: np.ndarray) -> np.ndarray:
    """A "cluster" of one face is an unassigned face."""
    counts = np.bincount(labels)
    return np.where(counts[labels] >= 2, labels, -1)


def _chinese_whispers(threshold: float) -> Method:
    import dlib

    def run(faces: FaceSet) -> np.ndarray:
        vectors = [dlib.vector(v.astype(float).tolist()) for v in faces.embeddings]
        return _small_clusters_unassigned(np.array(dlib.chinese_whispers_clustering(vectors, threshold)))
    return run


def _average_linkage(threshold: float) -> Method:
    from scipy.cluster.hierarchy import fcluster, linkage

    def run(faces: FaceSet) -> np.ndarray:
        tree = linkage(faces.embeddings, method="average", metric="euclidean")
        return _small_clusters_unassigned(fcluster(tree, threshold, criterion="distance") - 1)
    return run


def _plain_hdbscan(epsilon: float) -> Method:
    import hdbscan

    return lambda faces: hdbscan.HDBSCAN(min_cluster_size=2, min_samples=1,
                                         cluster_selection_epsilon=epsilon).fit_predict(faces.embeddings)


def _threshold_grid(defaults: ClusteringParams) -> np.ndarray:
    """Thresholds around the model's merge distance (the scale differs per recogniser)."""
    return np.round(defaults.merge_distance * np.arange(0.70, 1.36, 0.05), 3)


def baselines_report(faces: FaceSet, defaults: ClusteringParams) -> str:
    bar = defaults.min_quality
    grid = _threshold_grid(defaults)

    def best(name: str, make: Callable[[float], Method], label: str) -> str:
        scored = [(t, evaluate(faces, _above_quality_bar(bar, make(float(t))))) for t in grid]
        t, s = max(scored, key=lambda item: (round(item[1].bcubed_f, 6), item[1].pairwise_p))
        return f"| {name} | {label}={t} (best of {len(grid)}) {row(s)}"

    lines = [f"| method | parameters {HEADER}", "|---|---" + "|---" * 11 + "|",
             f"| ours (defaults) | {describe(defaults)} {row(evaluate(faces, ours(defaults)))}",
             best("DBSCAN min 3 faces (Immich)", _dbscan, "eps"),
             best("Chinese whispers (dlib example)", _chinese_whispers, "t"),
             best("average-linkage agglomerative", _average_linkage, "t"),
             f"| HDBSCAN alone, guide's parameters | mcs=2 ms=1 eps=0.4 "
             f"{row(evaluate(faces, _above_quality_bar(bar, _plain_hdbscan(0.4))))}"]
    return "\n".join(lines)


def describe(p: ClusteringParams) -> str:
    return (f"mcs={p.min_cluster_size} ms={p.min_samples} eps={p.epsilon} q={p.min_quality} link={p.link_distance} "
            f"merge={p.merge_distance} attach={p.attach_distance}/{p.attach_margin}")


def sets_report(scores: dict[str, Score]) -> str:
    lines = [f"| set | photos {HEADER}", "|---|---" + "|---" * 11 + "|"]
    lines += [f"| {name} | {s.photos} {row(s)}" for name, s in scores.items()]
    return "\n".join(lines)


def groups_report(dev2: FaceSet, method: Method) -> str:
    """dev2 scored per group of people, clustered once as a whole."""
    labels = method(dev2)
    truth = labelled_boxes("dev2")
    lines = [f"| dev2 group | identities {LABELLED_HEADER}", "|---|---" + "|---" * 7 + "|"]
    for group, members in sorted(dev2_groups().items()):
        total = sum(t.identity in members for t in truth)
        s = score(labels, dev2.identities, dev2.image_ids, total, dev2.photos, scored=members)
        lines.append(f"| {group} | {len(members)} {labelled_row(s)}")
    return "\n".join(lines)


def attach_rule_report(faces: FaceSet, params: ClusteringParams) -> str:
    """The noise rule as incremental assignment uses it, leave one out on labelled faces.

    Each labelled face in a person of >= 3 faces is taken out and decided against all persons
    by its nearest-face distances, as ``assign_new_faces`` does.
    """
    keep = faces.quality >= params.min_quality
    x = faces.embeddings[keep]
    identity = np.array([i or "" for i in faces.identities])[keep]
    labels = ours(params)(faces)[keep]

    def majority(label: int, exclude: int) -> str:
        members = [i for i in np.flatnonzero(labels == label) if i != exclude and identity[i]]
        values, counts = np.unique(identity[members], return_counts=True) if members else ([""], [1])
        return str(values[int(np.argmax(counts))])

    decided = correct = tried = 0
    for face in np.flatnonzero((labels >= 0) & (identity != "")):
        if (labels == labels[face]).sum() < 3:
            continue
        tried += 1
        others = np.flatnonzero((labels >= 0) & (np.arange(len(labels)) != face))
        distance = np.linalg.norm(x[others] - x[face], axis=1)
        nearest: dict[int, float] = {}
        for label, d in zip(labels[others].tolist(), distance.tolist(), strict=True):
            nearest[label] = min(d, nearest.get(label, d))
        choice = choose_person(nearest, params.attach_distance, params.attach_margin)
        if choice is not None:
            decided += 1
            correct += majority(choice, face) == identity[face]
    return (f"Incremental rule, leave one out: {tried} labelled faces of persons with >= 3 faces; "
            f"{decided} attached ({decided / max(tried, 1):.1%}), {correct} to the right person "
            f"(precision {correct / max(decided, 1):.3f}); the rest stay unassigned.")


def _relative(defaults: ClusteringParams, name: str, factors: list[float]) -> list[float]:
    return [round(getattr(defaults, name) * f, 3) for f in factors]


def sweep_values(defaults: ClusteringParams) -> dict[str, list[float]]:
    """Values tried per parameter; distances relative to the model's own scale."""
    steps = [0.0, 0.85, 0.9, 0.95, 1.0, 1.05, 1.1, 1.15]
    return {
        "min_cluster_size": [2, 3],
        "min_samples": [1, 2, 3],
        "epsilon": [0.0, round(defaults.merge_distance * 0.5, 3), round(defaults.merge_distance * 0.8, 3)],
        "min_quality": [0.0, 0.2, 0.3, 0.4, 0.5, 0.6],
        "link_distance": [*_relative(defaults, "link_distance", [0.9, 1.0, 1.1, 1.2]), 4.0],
        "merge_distance": _relative(defaults, "merge_distance", steps),
        "attach_distance": _relative(defaults, "attach_distance", steps),
        "attach_margin": [0.0, 0.02, 0.04, 0.06, 0.08],
    }


def _cell(s: Score) -> str:
    return f"{s.pairwise_p:.3f} / {s.bcubed_f:.3f} / {s.all_faces_bcubed_p:.3f} / {s.junk_persons}"


def sweep_report(sets: dict[str, FaceSet], defaults: ClusteringParams) -> str:
    """One parameter at a time around the defaults: pair P / BCubed F / all-faces P / junk, per set."""
    lines = ["| parameter | value | " + " | ".join(sets) + " |", "|---|---|" + "---|" * len(sets)]
    for name, values in sweep_values(defaults).items():
        for value in values:
            params = replace(defaults, **{name: type(getattr(defaults, name))(value)})
            cells = " | ".join(_cell(s) for s in per_set(sets, ours(params)).values())
            mark = " (default)" if getattr(defaults, name) == value else ""
            lines.append(f"| {name} | {value}{mark} | {cells} |")
    return "\n".join(lines)


def _acceptable(s: Score) -> bool:
    """Precision first: the choice must keep both precisions on every set it is made on."""
    return s.pairwise_p >= 0.99 and s.all_faces_bcubed_p >= 0.97 and s.same_photo_pairs == 0


TIE = 0.002


def leave_one_out_report(sets: dict[str, FaceSet], defaults: ClusteringParams) -> str:
    """Merge and attach distances chosen on two sets the way the defaults were, scored on the third.

    On the two seen sets: settings that keep precision on both, then the best worst-set BCubed F;
    of the settings within ``TIE`` of it (the plateau) the median one, not the plateau's edge.
    """
    grid = [replace(defaults, merge_distance=m, attach_distance=a) for m, a in itertools.product(
        _relative(defaults, "merge_distance", [0.85, 0.9, 0.95, 1.0, 1.05, 1.1, 1.15]),
        _relative(defaults, "attach_distance", [0.85, 0.9, 0.95, 1.0, 1.05, 1.1, 1.15]))]
    scores = [per_set(sets, ours(p)) for p in grid]
    lines = [f"| held out | chosen on the others {HEADER}", "|---|---" + "|---" * 11 + "|"]
    for held in sets:
        seen = [[s for name, s in by_set.items() if name != held] for by_set in scores]
        safe = [i for i, scored in enumerate(seen) if all(_acceptable(s) for s in scored)] or list(range(len(grid)))
        worst_f = {i: min(s.bcubed_f for s in seen[i]) for i in safe}
        best = max(worst_f.values())
        plateau = [i for i in safe if worst_f[i] >= best - TIE]  # grid order: by merge, then attach
        chosen = plateau[len(plateau) // 2]
        lines.append(f"| {held} | merge={grid[chosen].merge_distance} attach={grid[chosen].attach_distance} "
                     f"{row(scores[chosen][held])}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default="yunet-reid256", help="model pack id (shared.face_analysis)")
    parser.add_argument("--baselines", action="store_true", help="also score the classic algorithms")
    parser.add_argument("--sweep", action="store_true", help="also vary each parameter around the defaults")
    parser.add_argument("--leave-one-out", action="store_true", help="choose distances on two sets, score the third")
    args = parser.parse_args()
    # The model files are in ../shared/models beside the checkout unless configured otherwise.
    os.environ.setdefault("FACECLUSTER_MODEL_DIR", str(Path(__file__).resolve().parents[2] / "shared" / "models"))
    sets = {name: load_face_set(args.source, name) for name in SETS}
    together = concat(list(sets.values()))
    defaults = model_defaults(args.source, together.embeddings.shape[1])
    print(f"source {args.source}, {together.embeddings.shape[1]}-d; defaults {describe(defaults)}")
    print(f"{len(together.paths)} faces ({sum(i is not None for i in together.identities)} labelled) "
          f"in {together.photos} photos\n")
    print(sets_report(per_set({**sets, "all together": together}, ours(defaults))))
    print()
    print(groups_report(sets["dev2"], ours(defaults)))
    print()
    print(attach_rule_report(together, defaults))
    if args.baselines:
        print("\nAll sets together:\n")
        print(baselines_report(together, defaults))
    if args.sweep:
        print("\nCells: pair P / BCubed F / all-faces BCubed P / junk persons\n")
        print(sweep_report(sets, defaults))
    if args.leave_one_out:
        print()
        print(leave_one_out_report(sets, defaults))


if __name__ == "__main__":
    main()
