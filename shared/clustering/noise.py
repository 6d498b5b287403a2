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

from shared.clustering.knn import nearest
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


FIRST_NEIGHBOURS = 32
WIDE_NEIGHBOURS = 512


def attach_noise(embeddings: np.ndarray, labels: np.ndarray, photo_ids: np.ndarray,
                 params: ClusteringParams) -> np.ndarray:
    """For every face, the person the noise pass gives it (``-1``: none; clustered faces get ``-1``).

    Each noise face's nearest clustered faces give each nearby person's nearest-face distance.
    A person not among the ``k`` found is at least as far as the ``k``-th; when that bound is
    too close to decide the margin, the face is looked up again with a much wider ``k``, and
    if still undecided it stays unassigned (conservative).
    """
    n = len(labels)
    target = np.full(n, -1, dtype=np.int64)
    clustered = np.flatnonzero(labels >= 0)
    noise = np.flatnonzero(labels < 0)
    if clustered.size == 0 or noise.size == 0:
        return target
    occupied = {(int(labels[face]), photo_ids[face]) for face in clustered}
    decisions = _decide(embeddings, labels, clustered, noise, FIRST_NEIGHBOURS, params)
    undecided = np.array([face for face, (choice, _) in decisions.items() if choice is _UNDECIDED], dtype=np.int64)
    if undecided.size:
        decisions.update(_decide(embeddings, labels, clustered, undecided, WIDE_NEIGHBOURS, params))
    wishes = sorted((distance, int(face), int(choice)) for face, (choice, distance) in decisions.items()
                    if choice is not None and choice is not _UNDECIDED)
    for _, face, label in wishes:
        if (label, photo_ids[face]) not in occupied:
            target[face] = label
            occupied.add((label, photo_ids[face]))
    return target


_UNDECIDED = object()


def _decide(embeddings: np.ndarray, labels: np.ndarray, clustered: np.ndarray, queries: np.ndarray, k: int,
            params: ClusteringParams) -> dict[int, tuple[object, float]]:
    """Per query face: (chosen label | None | _UNDECIDED, distance to the chosen person)."""
    distances, indices = nearest(embeddings[clustered], embeddings[queries], k)
    truncated = indices.shape[1] < clustered.size
    decisions: dict[int, tuple[object, float]] = {}
    for row, face in enumerate(queries.tolist()):
        found: dict[int, float] = {}
        for index, distance in zip(indices[row].tolist(), distances[row].tolist(), strict=True):
            if index >= 0 and int(labels[clustered[index]]) not in found:
                found[int(labels[clustered[index]])] = distance
                if len(found) == 2:
                    break
        if not found:
            decisions[face] = (None, 0.0)
            continue
        best_distance = min(found.values())
        bound = float(distances[row][np.isfinite(distances[row])][-1])
        if len(found) == 1 and truncated and best_distance <= params.attach_distance \
                and bound - best_distance < params.attach_margin:
            decisions[face] = (_UNDECIDED, best_distance)
            continue
        choice = choose_person(found, params.attach_distance, params.attach_margin)
        decisions[face] = (choice, found[choice] if choice is not None else 0.0)
    return decisions
