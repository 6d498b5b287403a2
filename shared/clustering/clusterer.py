"""HDBSCAN over a k-NN graph, the cannot-link constraint, merging pieces, then the noise pass.

Why not ``hdbscan.HDBSCAN`` on the raw vectors: its tree-based minimum spanning tree degrades
to brute force in 128/512 dimensions (100,000 faces take tens of minutes). HDBSCAN only needs
core distances (the ``min_samples``-th neighbour) and the minimum spanning tree of
mutual-reachability distances, and that tree lives almost entirely on short edges. So we:

1. build a k-NN graph (:mod:`shared.clustering.knn`: exact up to 20k faces, IVF above);
2. weight its edges by mutual reachability ``max(core_a, core_b, d_ab)``;
3. take the graph's minimum spanning forest (scipy), cut its edges longer than
   ``link_distance`` and join the pieces above every real distance. HDBSCAN is scale-free: on
   its own it happily groups faces 1.4 apart (unrelated people, detector false positives) when
   nothing denser is around; the cut makes "same person" need an absolute closeness too;
4. hand that tree to the ``hdbscan`` package's own condensing and cluster selection, so the
   selection is HDBSCAN's. We select *leaf* clusters (with ``cluster_selection_epsilon``):
   excess of mass picks the most stable clusters, which in a sparse event (mostly people seen
   2-3 times) is one long chain of different people below the link cut — measured on the
   group photos alone it made one person of six people. Leaves are the tight pieces; step 5
   joins the pieces that are one person;
5. split clusters holding two faces of one photo (:mod:`cannot_link`), merge pieces of one
   person (:mod:`merge`), and give clear noise faces to their person (:mod:`noise`).

Up to ``COMPLETE_GRAPH_LIMIT`` faces the graph is complete and the result equals
``hdbscan.HDBSCAN(metric="euclidean")`` exactly (a test checks this).

scikit-learn's ``HDBSCAN`` is not used: scikit-learn 1.9.1 crashes with
``cluster_selection_epsilon`` under numpy 2.4.
"""

from __future__ import annotations

import numpy as np
from hdbscan._hdbscan_linkage import label as single_linkage_tree
from hdbscan.hdbscan_ import _tree_to_labels
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components, minimum_spanning_tree

from shared.clustering.cannot_link import CondensedTree, enforce_cannot_link
from shared.clustering.knn import knn_graph
from shared.clustering.merge import merge_clusters
from shared.clustering.noise import attach_noise
from shared.clustering.params import ClusteringParams

COMPLETE_GRAPH_LIMIT = 1_000
GRAPH_NEIGHBOURS = 16
CLUSTER_SELECTION = "leaf"  # see step 4 above
# Unit vectors are at most 2 apart; components are joined above that.
_DISCONNECTED = 4.0


class FaceClusterer:
    """Cluster L2-normalised face embeddings into persons.

    ``fit(embeddings, photo_ids)``: ``photo_ids[i]`` identifies the photo of face ``i`` (two
    faces of one photo are never put in one person). After fitting:

    * ``labels_``: person index per face, ``-1`` for unassigned;
    * ``hdbscan_labels_``: the labels before the cannot-link split and the noise pass (for
      measurement);
    * ``attached_``: boolean mask of faces the noise pass attached;
    * ``n_persons_``.
    """

    def __init__(self, params: ClusteringParams) -> None:
        self.params = params

    def fit(self, embeddings: np.ndarray, photo_ids: np.ndarray) -> FaceClusterer:
        x = np.asarray(embeddings, dtype=np.float32)
        photo_ids = np.asarray(photo_ids)
        n = len(x)
        self.labels_ = np.full(n, -1, dtype=np.int64)
        self.hdbscan_labels_ = self.labels_.copy()
        self.attached_ = np.zeros(n, dtype=bool)
        self.n_persons_ = 0
        if n < self.params.min_cluster_size:
            return self
        k = n if n <= COMPLETE_GRAPH_LIMIT else max(GRAPH_NEIGHBOURS, self.params.min_samples + 1)
        distances, indices = knn_graph(x, k)
        mst = _mutual_reachability_mst(distances, indices, self.params.min_samples, self.params.link_distance)
        labels, _, _, condensed, _ = _tree_to_labels(
            None, single_linkage_tree(mst), min_cluster_size=self.params.min_cluster_size,
            cluster_selection_method=CLUSTER_SELECTION, cluster_selection_epsilon=self.params.epsilon)
        labels = _drop_loose_faces(labels.astype(np.int64), condensed, self.params.link_distance)
        self.hdbscan_labels_ = labels
        labels = enforce_cannot_link(x, labels, photo_ids, CondensedTree(condensed, n),
                                     self.params.min_cluster_size)
        labels = merge_clusters(x, labels, photo_ids, self.params.merge_distance)
        attached = attach_noise(x, labels, photo_ids, self.params)
        self.attached_ = (attached >= 0) & (labels < 0)
        self.labels_ = _renumber(np.where(self.attached_, attached, labels))
        self.n_persons_ = int(self.labels_.max() + 1)
        return self

    def fit_predict(self, embeddings: np.ndarray, photo_ids: np.ndarray) -> np.ndarray:
        return self.fit(embeddings, photo_ids).labels_


def _mutual_reachability_mst(distances: np.ndarray, indices: np.ndarray, min_samples: int,
                             link_distance: float) -> np.ndarray:
    """Minimum spanning tree ``(n-1, 3)`` rows ``(a, b, weight)`` sorted by weight.

    Edges longer than ``link_distance`` (and the bridges between disconnected parts) all get
    one weight above any real distance, so HDBSCAN sees the parts as separate from the root.
    """
    n, k = indices.shape
    core = distances[:, min(min_samples, k - 1)].astype(np.float64)
    rows = np.repeat(np.arange(n), k - 1)
    cols = indices[:, 1:].ravel()
    dist = distances[:, 1:].ravel().astype(np.float64)
    keep = (cols >= 0) & np.isfinite(dist)
    rows, cols, dist = rows[keep], cols[keep], dist[keep]
    weight = np.maximum(np.maximum(core[rows], core[cols]), dist)
    # Zero weights would vanish from a sparse matrix; a tiny floor keeps duplicates connected.
    weight = np.maximum(weight, 1e-12)
    # Each row lists a neighbour once, so no (row, col) pair repeats; scipy reads the graph as
    # undirected, and mutual reachability is symmetric.
    graph = coo_matrix((weight, (rows, cols)), shape=(n, n)).tocsr()
    tree = minimum_spanning_tree(graph).tocoo()
    edges = np.column_stack([tree.row, tree.col, tree.data]).astype(np.float64)
    edges[edges[:, 2] > link_distance, 2] = _DISCONNECTED
    n_components, component = connected_components(tree, directed=False)
    if n_components > 1:
        # One representative per component, chained above any real distance.
        firsts = np.unique(component, return_index=True)[1]
        bridges = np.column_stack([firsts[:-1], firsts[1:], np.full(len(firsts) - 1, _DISCONNECTED)])
        edges = np.vstack([edges, bridges])
    return edges[np.argsort(edges[:, 2], kind="stable")]


def _drop_loose_faces(labels: np.ndarray, condensed: np.ndarray, link_distance: float) -> np.ndarray:
    """Unassign faces that joined their cluster only through a cut (longer than link) edge.

    HDBSCAN labels every face that falls out of a selected cluster with that cluster, however
    late it falls out; a face whose only link to the cluster is longer than ``link_distance``
    is not close to anyone in it.
    """
    n = len(labels)
    point_rows = condensed[condensed["child"] < n]
    loose = point_rows["child"][point_rows["lambda_val"] * link_distance < 1.0 - 1e-9]
    labels = labels.copy()
    labels[loose.astype(np.int64)] = -1
    return labels


def _renumber(labels: np.ndarray) -> np.ndarray:
    """Persons numbered 0..m-1 by decreasing size (stable, so runs are reproducible)."""
    out = np.full_like(labels, -1)
    present = labels[labels >= 0]
    if present.size == 0:
        return out
    values, counts = np.unique(present, return_counts=True)
    order = values[np.lexsort((values, -counts))]
    mapping = {int(v): i for i, v in enumerate(order)}
    mask = labels >= 0
    out[mask] = [mapping[int(v)] for v in labels[mask]]
    return out
