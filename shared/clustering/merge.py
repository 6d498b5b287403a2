"""Merge HDBSCAN's clusters that are one person: average linkage between clusters, cannot-link aware.

With ``min_cluster_size=2`` HDBSCAN is precise but splits a person photographed in different
light or pose into several dense pieces. Joining pieces whose *average* face-to-face distance
is small is what average-linkage clustering does best (it is the strongest of the classic
baselines on face embeddings, see ``docs/clustering.md``), and at the piece level it cannot
chain through single outlying faces. Two pieces that share a photo are never merged.

For unit vectors the mean squared distance between the faces of A and B is
``2 - 2 <mean_A, mean_B>``, so the linkage is exact from the cluster means alone. And since the
merged cluster's squared distance to C is the size-weighted average of A's and B's, a pair
farther than the threshold can only come within it through a pair that already is: the pairs
within the threshold (one exact faiss range search over the means) are all the candidates
there will ever be. Merging closest first with a priority queue then gives exactly
average-linkage agglomeration (with squared-distance averaging) cut at the threshold.
"""

from __future__ import annotations

import heapq

import faiss
import numpy as np


def linkage_distance(mean_a: np.ndarray, mean_b: np.ndarray) -> float:
    """Root mean squared distance between the faces of two clusters, from their means."""
    return float(np.sqrt(max(0.0, 2.0 - 2.0 * float(mean_a @ mean_b))))


def merge_clusters(embeddings: np.ndarray, labels: np.ndarray, photo_ids: np.ndarray,
                   max_distance: float) -> np.ndarray:
    """Labels after merging clusters closer than ``max_distance`` (noise stays ``-1``)."""
    clustered = np.flatnonzero(labels >= 0)
    if clustered.size == 0 or max_distance <= 0:
        return labels.copy()
    ids, inverse = np.unique(labels[clustered], return_inverse=True)
    count = np.bincount(inverse).astype(np.float64)
    sums = np.zeros((len(ids), embeddings.shape[1]), dtype=np.float64)
    np.add.at(sums, inverse, embeddings[clustered])
    means = sums / count[:, None]
    photos: list[set] = [set() for _ in ids]
    for cluster, face in zip(inverse.tolist(), clustered.tolist(), strict=True):
        photos[cluster].add(photo_ids[face])
    neighbours, heap = _pairs_within(means, max_distance)
    heapq.heapify(heap)
    parent = list(range(len(ids)))
    alive = [True] * len(ids)
    while heap:
        distance, a, b = heapq.heappop(heap)
        if not (alive[a] and alive[b]) or photos[a] & photos[b]:
            continue
        if abs(distance - linkage_distance(means[a], means[b])) > 1e-9:
            continue  # stale: one side changed since this pair was queued
        means[a] = (means[a] * count[a] + means[b] * count[b]) / (count[a] + count[b])
        count[a] += count[b]
        photos[a] |= photos[b]
        alive[b] = False
        parent[b] = a
        neighbours[a] = (neighbours[a] | neighbours[b]) - {a, b}
        for c in neighbours[a]:
            if alive[c]:
                d = linkage_distance(means[a], means[c])
                if d <= max_distance:
                    heapq.heappush(heap, (d, min(a, c), max(a, c)))
    root = np.array([_find(parent, i) for i in range(len(ids))])
    merged = labels.copy()
    merged[clustered] = ids[root[inverse]]
    return merged


def _find(parent: list[int], i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


def _pairs_within(means: np.ndarray, max_distance: float) -> tuple[list[set[int]], list[tuple[float, int, int]]]:
    """Each cluster's neighbours within ``max_distance`` and the queue of those pairs."""
    x = np.ascontiguousarray(means, dtype=np.float32)
    index = faiss.IndexFlatIP(x.shape[1])
    index.add(x)
    # d^2 = 2 - 2 ip <= max^2  <=>  ip >= 1 - max^2 / 2
    limits, _similarity, found = index.range_search(x, float(1.0 - max_distance**2 / 2.0) - 1e-6)
    neighbours: list[set[int]] = [set() for _ in range(len(x))]
    heap: list[tuple[float, int, int]] = []
    for a in range(len(x)):
        for b in found[limits[a]:limits[a + 1]].tolist():
            if a < b:
                d = linkage_distance(means[a], means[b])
                if d <= max_distance:
                    neighbours[a].add(b)
                    neighbours[b].add(a)
                    heap.append((d, a, b))
    return neighbours, heap
