"""The k-nearest-neighbour graph that clustering is built on.

HDBSCAN needs each face's distance to its ``min_samples``-th neighbour and a minimum spanning
tree of mutual-reachability distances. Both are local: the edges that matter inside and
between identities are short, so a k-NN graph holds them. Computing it is the whole cost of
clustering a large event, so the method scales with the size:

* up to ``EXACT_LIMIT`` faces: exact search (faiss flat inner product, i.e. BLAS);
* above: faiss IVF-Flat, an inverted file over ``2·sqrt(n)`` k-means cells, each face
  searched in its ``IVF_PROBES`` nearest cells. Faces of one person sit in one or two cells,
  which is exactly what IVF assumes, so the neighbours that matter are found at a fraction
  of the exact cost. Measured for the 16-NN graph of 100k synthetic 128-d faces under the
  same load (2 shared cores): IVF 5.6 s, HNSW (M=16, efConstruction 40) 11.3 s, exact about
  200 s (extrapolated from 1,000 queries); clustering on the IVF graph keeps every person
  pure (``bench/cluster_scale.py``).

Embeddings are L2-normalised, so Euclidean distance is ``sqrt(2 - 2 cos)`` and inner-product
search ranks exactly as Euclidean search.
"""

from __future__ import annotations

import faiss
import numpy as np

EXACT_LIMIT = 20_000
IVF_PROBES = 8
IVF_TRAINING_PER_CELL = 40


def nearest(vectors: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest ``vectors`` of each query: ``(distances, indices)``, nearest first.

    Distances are Euclidean on the unit sphere. Missing neighbours (IVF may return fewer)
    have index -1 and distance ``inf``.
    """
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    n, dim = x.shape
    k = min(k, n)
    if n <= EXACT_LIMIT:
        index = faiss.IndexFlatIP(dim)
    else:
        cells = int(2 * np.sqrt(n))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, cells, faiss.METRIC_INNER_PRODUCT)
        sample = np.random.default_rng(0).choice(n, size=min(n, cells * IVF_TRAINING_PER_CELL), replace=False)
        index.train(x[np.sort(sample)])
        index.nprobe = IVF_PROBES
    index.add(x)
    similarity, indices = index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
    distances = np.sqrt(np.clip(2.0 - 2.0 * similarity, 0.0, None))
    distances[indices < 0] = np.inf
    return distances, indices


def knn_graph(embeddings: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``(distances, indices)``, each ``(n, k)``, nearest first; column 0 is the face itself."""
    return _self_first(*nearest(embeddings, embeddings, k))


def _self_first(distances: np.ndarray, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Put each face at column 0 of its own row (ties and IVF may place it elsewhere or not at all)."""
    n = len(indices)
    rows = np.arange(n)
    is_self = indices == rows[:, None]
    has_self = is_self.any(axis=1)
    # Rows that lack themselves lose their farthest neighbour to make room.
    order = np.argsort(~is_self, axis=1, kind="stable")
    indices = np.take_along_axis(indices, order, axis=1)
    distances = np.take_along_axis(distances, order, axis=1)
    missing = ~has_self
    if missing.any():
        indices[missing] = np.concatenate([rows[missing, None], indices[missing, :-1]], axis=1)
        distances[missing] = np.concatenate([np.zeros((missing.sum(), 1), distances.dtype),
                                             distances[missing, :-1]], axis=1)
    distances[:, 0] = 0.0
    return distances, indices
