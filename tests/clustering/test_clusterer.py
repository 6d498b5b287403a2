"""The pure clustering pipeline on arrays: HDBSCAN equivalence, cannot-link, merging, noise, false positives."""

from __future__ import annotations

from dataclasses import replace

import hdbscan
import numpy as np
import pytest

from shared.clustering import knn
from shared.clustering.clusterer import CLUSTER_SELECTION, COMPLETE_GRAPH_LIMIT, FaceClusterer
from shared.clustering.params import DLIB_DEFAULTS
from tests.clustering.synthetic import identity_embeddings, near


def _same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal up to renaming of the labels (noise must be noise in both)."""
    if not np.array_equal(a < 0, b < 0):
        return False
    pairs = set(zip(a[a >= 0].tolist(), b[b >= 0].tolist(), strict=True))
    return len(pairs) == len({x for x, _ in pairs}) == len({y for _, y in pairs})


def _pure(labels: np.ndarray, identity: np.ndarray) -> bool:
    return all(len(set(identity[labels == label])) == 1 for label in set(labels[labels >= 0].tolist()))


def test_graph_hdbscan_equals_the_hdbscan_package_on_small_events() -> None:
    """Equal to hdbscan's own exact algorithms.

    (With min_samples >= 2 and min_cluster_size 2, mutual-reachability distances tie so often
    that hdbscan's own algorithms disagree with each other; those settings are not compared.)
    """
    x, _ = identity_embeddings([12, 9, 7, 5, 3, 2, 2, 1, 1], spread=0.45, seed=3)
    x = x.astype(np.float64)
    photos = np.arange(len(x))
    for min_cluster_size, min_samples, epsilon in [(2, 1, 0.0), (2, 1, 0.3), (3, 2, 0.0), (4, 3, 0.0)]:
        params = replace(DLIB_DEFAULTS, min_cluster_size=min_cluster_size, min_samples=min_samples, epsilon=epsilon,
                         link_distance=4.0)  # no absolute cut: plain HDBSCAN
        ours = FaceClusterer(params).fit(x, photos).hdbscan_labels_
        references = [hdbscan.HDBSCAN(min_cluster_size=min_cluster_size, min_samples=min_samples,
                                      cluster_selection_epsilon=epsilon, algorithm=algorithm,
                                      cluster_selection_method=CLUSTER_SELECTION).fit_predict(x)
                      for algorithm in ("generic", "prims_kdtree", "boruvka_kdtree")]
        assert any(_same_partition(ours, reference) for reference in references), (min_cluster_size, min_samples)


def test_separates_identities_and_merges_nothing() -> None:
    x, identity = identity_embeddings([20, 15, 10, 6, 3, 2], seed=1)
    labels = FaceClusterer(DLIB_DEFAULTS).fit_predict(x, np.arange(len(x)))
    assert _pure(labels, identity)
    assert _same_partition(labels, identity)


def test_approximate_graph_on_large_events_keeps_identities_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(knn, "EXACT_LIMIT", 1_000)  # exercise the IVF search at a test-friendly size
    sizes = [int(s) for s in np.random.default_rng(0).integers(2, 40, size=150)]
    x, identity = identity_embeddings(sizes, seed=2)
    assert len(x) > max(COMPLETE_GRAPH_LIMIT, knn.EXACT_LIMIT)
    labels = FaceClusterer(DLIB_DEFAULTS).fit_predict(x, np.arange(len(x)))
    assert _pure(labels, identity)
    assert (labels >= 0).mean() > 0.95


def test_twins_in_one_photo_are_never_one_person() -> None:
    """Two people closer than the merge distance, photographed together three times."""
    rng = np.random.default_rng(5)
    twin_a = rng.normal(size=128)
    twin_a /= np.linalg.norm(twin_a)
    twin_b = near(twin_a, 0.33, seed=6)
    faces, identity, photos = [], [], []
    for photo in range(16):
        members = [0, 1] if photo < 3 else [photo % 2]  # together on the first three photos
        for member in members:
            centre = (twin_a, twin_b)[member]
            faces.append(near(centre, 0.2, seed=100 + len(faces)))
            identity.append(member)
            photos.append(photo)
    x, identity, photos = np.stack(faces), np.array(identity), np.array(photos)
    params = replace(DLIB_DEFAULTS, merge_distance=0.5, attach_distance=0.5)
    labels = FaceClusterer(params).fit_predict(x, photos)
    for label in set(labels[labels >= 0].tolist()):
        members = photos[labels == label]
        assert len(members) == len(set(members.tolist())), "two faces of one photo in one person"
    # Without the constraint the same parameters merge them: the constraint did the work.
    unconstrained = FaceClusterer(params).fit_predict(x, np.arange(len(x)))
    assert not _pure(unconstrained, identity)


def test_pieces_of_one_person_are_merged_but_never_across_a_shared_photo() -> None:
    rng = np.random.default_rng(9)
    centre = rng.normal(size=128)
    centre /= np.linalg.norm(centre)
    # Two tight groups ~0.3 apart: HDBSCAN (min_samples 1) keeps them apart, linkage joins them.
    left, right = near(centre, 0.15, seed=1), near(centre, 0.15, seed=2)
    x = np.stack([near(left, 0.05, seed=10 + i) for i in range(4)] + [near(right, 0.05, seed=20 + i) for i in range(4)])
    params = replace(DLIB_DEFAULTS, merge_distance=0.41)
    assert len(set(FaceClusterer(replace(params, merge_distance=0.0)).fit_predict(x, np.arange(8)).tolist())) >= 2
    assert set(FaceClusterer(params).fit_predict(x, np.arange(8)).tolist()) == {0}
    shared_photo = np.array([0, 1, 2, 3, 0, 5, 6, 7])  # face 0 and face 4 are one photo
    labels = FaceClusterer(params).fit_predict(x, shared_photo)
    assert labels[0] != labels[4]


def test_scattered_false_positives_form_no_person() -> None:
    x, identity = identity_embeddings([8, 6, 5], seed=4)
    junk = np.random.default_rng(404).normal(size=(30, 128)).astype(np.float32)
    junk /= np.linalg.norm(junk, axis=1, keepdims=True)
    labels = FaceClusterer(DLIB_DEFAULTS).fit_predict(np.vstack([x, junk]), np.arange(len(x) + 30))
    assert (labels[len(x):] == -1).all()
    assert _same_partition(labels[: len(x)], identity)
