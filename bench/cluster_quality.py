"""Score clustering against identity labels, ours and the algorithms well-known photo apps use.

    .venv/bin/python bench/cluster_quality.py [--source yunet-dlib|dlib-boxes] [--dev-only] [--sweep]

All methods cluster the same embeddings: every detected face of the dev images and the group
photos (unlabelled faces included, as an event has them), and are scored on labelled faces
only. Unassigned faces count as singletons (a face nobody grouped is a person of one).
Metrics: pairwise precision/recall/F over same-person pairs, BCubed precision/recall/F (per
face, averaged), the number of persons (clusters of ≥ 2 faces among all faces) and the share of
labelled faces left unassigned.

Baselines, each swept over its threshold and reported at its best BCubed F:
* DBSCAN with min_samples 3 (Immich's default of 3 faces per person);
* Chinese whispers (dlib's ``chinese_whispers_clustering``, as in dlib's face clustering example);
* average-linkage agglomerative clustering (scipy) with a distance cut;
* HDBSCAN with the guide's CLUSTER_EPSILON 0.4, alone and inside our pipeline.

Every method sees the same faces: those that pass the default quality bar (the others count as
unassigned for all of them).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from face_dataset import FaceSet, load_face_set

from shared.clustering.clusterer import FaceClusterer
from shared.clustering.noise import choose_person
from shared.clustering.params import ClusteringParams, model_defaults


@dataclass(frozen=True)
class Score:
    pairwise_p: float
    pairwise_r: float
    pairwise_f: float
    bcubed_p: float
    bcubed_r: float
    bcubed_f: float
    persons: int
    unassigned: float


def _f(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def score(labels: np.ndarray, identities: list[str | None]) -> Score:
    """Scores on labelled faces; ``labels`` covers every face (-1 = unassigned)."""
    labelled = np.array([i is not None for i in identities])
    truth = np.unique(np.array([i or "" for i in identities])[labelled], return_inverse=True)[1]
    pred = labels[labelled].copy()
    unassigned = float((pred < 0).mean())
    singles = pred < 0
    pred[singles] = pred.max() + 1 + np.arange(singles.sum())  # unassigned: persons of one
    same_pred = pred[:, None] == pred[None, :]
    same_true = truth[:, None] == truth[None, :]
    off_diagonal = ~np.eye(len(pred), dtype=bool)
    tp = (same_pred & same_true & off_diagonal).sum()
    pairwise_p = tp / max((same_pred & off_diagonal).sum(), 1)
    pairwise_r = tp / max((same_true & off_diagonal).sum(), 1)
    both = (same_pred & same_true).sum(axis=1)
    bcubed_p = float(np.mean(both / same_pred.sum(axis=1)))
    bcubed_r = float(np.mean(both / same_true.sum(axis=1)))
    clustered = labels[labels >= 0]
    persons = int((np.bincount(clustered) >= 2).sum()) if clustered.size else 0
    return Score(float(pairwise_p), float(pairwise_r), _f(pairwise_p, pairwise_r), bcubed_p, bcubed_r,
                 _f(bcubed_p, bcubed_r), persons, unassigned)


def _ours(params: ClusteringParams) -> Callable[[FaceSet], np.ndarray]:
    return lambda faces: FaceClusterer(params).fit_predict(faces.embeddings, faces.image_ids)


def _above_quality_bar(faces: FaceSet, min_quality: float,
                       method: Callable[[FaceSet], np.ndarray]) -> Callable[[FaceSet], np.ndarray]:
    """Run ``method`` on the faces that pass the quality bar; the others are unassigned.

    Every method gets this same input, so the comparison is between clustering algorithms.
    """
    keep = faces.quality >= min_quality
    subset = FaceSet([p for p, k in zip(faces.paths, keep, strict=True) if k], faces.embeddings[keep],
                     faces.quality[keep], [i for i, k in zip(faces.identities, keep, strict=True) if k])

    def run(_: FaceSet) -> np.ndarray:
        labels = np.full(len(keep), -1)
        labels[keep] = method(subset)
        return labels
    return run


def _dbscan(eps: float) -> Callable[[FaceSet], np.ndarray]:
    from sklearn.cluster import DBSCAN

    return lambda faces: DBSCAN(eps=eps, min_samples=3).fit_predict(faces.embeddings)


def _chinese_whispers(threshold: float) -> Callable[[FaceSet], np.ndarray]:
    import dlib

    def run(faces: FaceSet) -> np.ndarray:
        vectors = [dlib.vector(v.astype(float).tolist()) for v in faces.embeddings]
        labels = np.array(dlib.chinese_whispers_clustering(vectors, threshold))
        counts = np.bincount(labels)
        return np.where(counts[labels] >= 2, labels, -1)  # a "cluster" of one face is unassigned
    return run


def _average_linkage(threshold: float) -> Callable[[FaceSet], np.ndarray]:
    from scipy.cluster.hierarchy import fcluster, linkage

    def run(faces: FaceSet) -> np.ndarray:
        labels = fcluster(linkage(faces.embeddings, method="average", metric="euclidean"), threshold,
                          criterion="distance") - 1
        counts = np.bincount(labels)
        return np.where(counts[labels] >= 2, labels, -1)
    return run


def _plain_hdbscan(min_cluster_size: int, min_samples: int, epsilon: float) -> Callable[[FaceSet], np.ndarray]:
    import hdbscan

    return lambda faces: hdbscan.HDBSCAN(min_cluster_size=min_cluster_size, min_samples=min_samples,
                                         cluster_selection_epsilon=epsilon).fit_predict(faces.embeddings)


def _best(name: str, faces: FaceSet, sweep: dict[str, Callable[[FaceSet], np.ndarray]]) -> tuple[str, str, Score]:
    scored = [(params, score(run(faces), faces.identities)) for params, run in sweep.items()]
    # Highest BCubed F; ties go to the higher pairwise precision.
    params, best = max(scored, key=lambda item: (round(item[1].bcubed_f, 6), item[1].pairwise_p))
    return name, f"{params} (best of {len(scored)})", best


def evaluate(faces: FaceSet, model: str) -> list[tuple[str, str, Score]]:
    defaults = model_defaults(model, faces.embeddings.shape[1])
    grid = np.round(np.arange(0.30, 0.62, 0.02), 2)
    bar = defaults.min_quality

    def same_input(method: Callable[[FaceSet], np.ndarray]) -> Callable[[FaceSet], np.ndarray]:
        return _above_quality_bar(faces, bar, method)

    d = defaults
    return [
        ("ours (defaults)", f"mcs={d.min_cluster_size} ms={d.min_samples} eps={d.epsilon} link={d.link_distance} "
                            f"merge={d.merge_distance} attach={d.attach_distance}/{d.attach_margin}",
         score(same_input(_ours(defaults))(faces), faces.identities)),
        _best("ours, best merge distance", faces,
              {f"merge={t}": same_input(_ours(replace(defaults, merge_distance=float(t)))) for t in grid}),
        ("ours, guide's parameters", "mcs=2 ms=1 eps=0.4 (rest default)",
         score(same_input(_ours(replace(defaults, epsilon=0.4)))(faces), faces.identities)),
        ("HDBSCAN alone, guide's parameters", "mcs=2 ms=1 eps=0.4",
         score(same_input(_plain_hdbscan(2, 1, 0.4))(faces), faces.identities)),
        _best("DBSCAN min 3 faces (Immich)", faces, {f"eps={t}": same_input(_dbscan(float(t))) for t in grid}),
        _best("Chinese whispers (dlib example)", faces,
              {f"t={t}": same_input(_chinese_whispers(float(t))) for t in grid}),
        _best("average-linkage agglomerative", faces,
              {f"t={t}": same_input(_average_linkage(float(t))) for t in grid}),
    ]


def attach_rule_report(faces: FaceSet, params: ClusteringParams) -> str:
    """How the noise pass and the incremental rule do on labelled faces.

    Noise pass: the faces it attached in the default run, and how many went to a person whose
    other labelled faces are mostly that identity. Incremental rule (leave one out): each
    labelled face in a person of >= 3 faces is taken out and decided against all persons by
    its nearest-face distances, as ``assign_new_faces`` does.
    """
    keep = faces.quality >= params.min_quality
    x, photos = faces.embeddings[keep], faces.image_ids[keep]
    identity = np.array([i or "" for i in faces.identities])[keep]
    fitted = FaceClusterer(params).fit(x, photos)
    labels = fitted.labels_

    def majority(label: int, exclude: int) -> str:
        members = [i for i in np.flatnonzero(labels == label) if i != exclude and identity[i]]
        values, counts = np.unique(identity[members], return_counts=True) if members else ([""], [1])
        return str(values[int(np.argmax(counts))])

    attached = [i for i in np.flatnonzero(fitted.attached_) if identity[i]]
    right = sum(majority(labels[i], i) == identity[i] for i in attached)
    lines = [f"Noise pass (attach_distance={params.attach_distance}, margin={params.attach_margin}): "
             f"{int(fitted.attached_.sum())} faces attached, {len(attached)} of them labelled, {right} correct."]
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
    lines.append(f"Incremental rule, leave one out: {tried} labelled faces of persons with >= 3 faces; "
                 f"{decided} attached ({decided / max(tried, 1):.1%}), {correct} to the right person "
                 f"(precision {correct / max(decided, 1):.3f}); the rest stay unassigned.")
    return "\n".join(lines)


SWEEP: dict[str, list[float]] = {
    "min_samples": [1, 2, 3],
    "epsilon": [0.0, 0.2, 0.3, 0.4],
    "min_quality": [0.0, 0.1, 0.2, 0.3, 0.4],
    "link_distance": [0.45, 0.5, 0.55, 0.6, 4.0],
    "merge_distance": [0.0, 0.38, 0.40, 0.42, 0.44, 0.46, 0.50],
    "attach_distance": [0.0, 0.36, 0.40, 0.44, 0.48],
    "attach_margin": [0.0, 0.02, 0.04, 0.08],
}


def sweep_report(faces: FaceSet, defaults: ClusteringParams) -> str:
    """One parameter at a time around the defaults: how the defaults were chosen."""
    lines = ["| parameter | value | pair P | BCubed P | BCubed R | BCubed F | persons | unassigned |",
             "|---|---|---|---|---|---|---|---|"]
    for name, values in SWEEP.items():
        for value in values:
            params = replace(defaults, **{name: type(getattr(defaults, name))(value)})
            s = score(_above_quality_bar(faces, params.min_quality, _ours(params))(faces), faces.identities)
            mark = " (default)" if getattr(defaults, name) == value else ""
            lines.append(f"| {name} | {value}{mark} | {s.pairwise_p:.3f} | {s.bcubed_p:.3f} | {s.bcubed_r:.3f} | "
                         f"{s.bcubed_f:.4f} | {s.persons} | {s.unassigned:.1%} |")
    return "\n".join(lines)


def format_table(rows: list[tuple[str, str, Score]]) -> str:
    lines = ["| method | parameters | pair P | pair R | pair F | BCubed P | BCubed R | BCubed F | persons "
             "| unassigned |", "|---|---|---|---|---|---|---|---|---|---|"]
    for name, params, s in rows:
        lines.append(f"| {name} | {params} | {s.pairwise_p:.3f} | {s.pairwise_r:.3f} | {s.pairwise_f:.3f} | "
                     f"{s.bcubed_p:.3f} | {s.bcubed_r:.3f} | {s.bcubed_f:.4f} | {s.persons} | {s.unassigned:.1%} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default="yunet-dlib",
                        help="model pack id (shared.face_analysis) or dlib-boxes (dataset boxes + dlib)")
    parser.add_argument("--dev-only", action="store_true", help="leave out the group photos")
    parser.add_argument("--sweep", action="store_true", help="also vary each parameter around the defaults")
    args = parser.parse_args()
    # The model files are in ../shared/models beside the checkout unless configured otherwise.
    os.environ.setdefault("FACECLUSTER_MODEL_DIR", str(Path(__file__).resolve().parents[2] / "shared" / "models"))
    faces = load_face_set(args.source, include_groups=not args.dev_only)
    labelled = sum(i is not None for i in faces.identities)
    print(f"{len(faces.paths)} faces ({labelled} labelled) from {len(set(faces.paths))} images, "
          f"{faces.embeddings.shape[1]}-d, source {args.source}\n")
    model = "dlib" if args.source == "dlib-boxes" else args.source
    print(format_table(evaluate(faces, model)))
    print()
    print(attach_rule_report(faces, model_defaults(model, faces.embeddings.shape[1])))
    if args.sweep:
        print()
        print(sweep_report(faces, model_defaults(model, faces.embeddings.shape[1])))


if __name__ == "__main__":
    main()
