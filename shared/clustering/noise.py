"""The second pass: noise faces that clearly belong to one person join it.

HDBSCAN leaves a face as noise when it is not in a dense enough region, which for faces
mostly means an unusual view of someone who *is* a person (profile, sunglasses, blur). Dropping
them loses tags; merging them loosely loses precision. The rule (measured in
``docs/clustering.md``):

    a face joins person A when its nearest face of A is within ``attach_distance`` and every
    other person's nearest face is at least ``attach_margin`` farther, and A has no face on the
    same photo yet (cannot-link); when two faces of one photo want the same person, the nearer
    one wins.

The same :func:`choose_person` decides incremental assignment between runs, so a face gets the
same answer whether it arrived before or after the last batch run.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import TypeVar

import numpy as np

from shared.clustering.params import ClusteringParams

K = TypeVar("K", bound=Hashable)


def choose_person(nearest: Mapping[K, float], max_distance: float, margin: float) -> K | None:
    """The person a face clearly belongs to, from each candidate's nearest-face distance."""
    if not nearest:
        return None
    ranked = sorted(nearest.items(), key=lambda item: item[1])
    best, best_distance = ranked[0]
    if best_distance > max_distance:
        return None
    if len(ranked) > 1 and ranked[1][1] - best_distance < margin:
        return None
    return best


_ELSEWHERE = object()  # "some other person, at least this far": beyond a truncated neighbour list


def attach_noise(embeddings: np.ndarray, labels: np.ndarray, photo_ids: np.ndarray, distances: np.ndarray,
                 indices: np.ndarray, params: ClusteringParams) -> np.ndarray:
    """For every face, the person the noise pass gives it (``-1``: none; clustered faces get ``-1``).

    ``distances`` / ``indices`` are the k-NN graph clustering used (self first, nearest first);
    when it is complete the nearest faces are exact, otherwise persons outside a face's k
    neighbours count as being at its k-th neighbour's distance, which keeps the margin test
    conservative.
    """
    n = len(labels)
    truncated = indices.shape[1] < n
    occupied = {(int(label), photo_ids[face]) for face, label in enumerate(labels) if label >= 0}
    wishes: list[tuple[float, int, int]] = []
    for face in np.flatnonzero(labels < 0):
        neighbours = indices[face, 1:]
        valid = neighbours >= 0
        neighbour_labels = labels[neighbours[valid]]
        neighbour_distances = distances[face, 1:][valid]
        in_person = neighbour_labels >= 0
        nearest: dict[object, float] = {}
        for label, distance in zip(neighbour_labels[in_person].tolist(),
                                   neighbour_distances[in_person].tolist(), strict=True):
            if label not in nearest:
                nearest[label] = distance
                if len(nearest) == 2:
                    break
        if truncated and len(nearest) < 2 and neighbour_distances.size:
            nearest[_ELSEWHERE] = float(neighbour_distances[-1])
        choice = choose_person(nearest, params.attach_distance, params.attach_margin)
        if choice is not None and choice is not _ELSEWHERE and (choice, photo_ids[face]) not in occupied:
            wishes.append((nearest[choice], int(face), int(choice)))
    target = np.full(n, -1, dtype=np.int64)
    for _, face, label in sorted(wishes):
        if (label, photo_ids[face]) not in occupied:
            target[face] = label
            occupied.add((label, photo_ids[face]))
    return target
