"""The noise second pass and the decision rule it shares with incremental assignment."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from shared.clustering.noise import attach_noise, choose_person
from shared.clustering.params import DLIB_DEFAULTS
from tests.clustering.synthetic import identity_embeddings, near


def test_choose_person_needs_a_near_and_clear_winner() -> None:
    assert choose_person({"a": 0.30, "b": 0.50}, max_distance=0.4, margin=0.04) == "a"
    assert choose_person({"a": 0.30}, max_distance=0.4, margin=0.04) == "a"
    assert choose_person({"a": 0.45, "b": 0.90}, max_distance=0.4, margin=0.04) is None  # too far
    assert choose_person({"a": 0.30, "b": 0.32}, max_distance=0.4, margin=0.04) is None  # ambiguous
    assert choose_person({}, max_distance=0.4, margin=0.04) is None


def _scene() -> tuple[np.ndarray, np.ndarray]:
    """Two persons (labels 0 and 1) of 5 faces each, on photos 0..9."""
    x, identity = identity_embeddings([5, 5], spread=0.1, seed=7)
    return x, identity


def _attach(x: np.ndarray, labels: np.ndarray, photos: np.ndarray, **params: float) -> np.ndarray:
    return attach_noise(x, labels, photos, replace(DLIB_DEFAULTS, **params))


def test_a_clear_noise_face_joins_its_person() -> None:
    x, identity = _scene()
    face = near(x[0], 0.3, seed=1)
    x = np.vstack([x, face])
    labels = np.append(identity, -1)
    target = _attach(x, labels, np.arange(len(x)), attach_distance=0.4, attach_margin=0.04)
    assert target[-1] == 0
    assert (target[:-1] == -1).all()


def test_a_face_far_from_everyone_stays_unassigned() -> None:
    x, identity = _scene()
    stranger = identity_embeddings([1], seed=99)[0]
    labels = np.append(identity, -1)
    target = _attach(np.vstack([x, stranger]), labels, np.arange(len(x) + 1))
    assert target[-1] == -1


def test_a_face_between_two_persons_stays_unassigned() -> None:
    x, identity = _scene()
    middle = x[0] + x[5]
    middle /= np.linalg.norm(middle)
    labels = np.append(identity, -1)
    target = _attach(np.vstack([x, middle]), labels, np.arange(len(x) + 1), attach_distance=2.0, attach_margin=0.04)
    assert target[-1] == -1


def test_noise_never_joins_a_person_already_on_its_photo() -> None:
    x, identity = _scene()
    face = near(x[0], 0.2, seed=3)
    photos = np.append(np.arange(len(x)), 2)  # same photo as face 2, which is in person 0
    target = _attach(np.vstack([x, face]), np.append(identity, -1), photos)
    assert target[-1] == -1


def test_two_noise_faces_of_one_photo_the_nearer_wins() -> None:
    x, identity = _scene()
    nearer, farther = near(x[0], 0.15, seed=4), near(x[0], 0.3, seed=5)
    photos = np.append(np.arange(len(x)), [50, 50])
    target = _attach(np.vstack([x, nearer, farther]), np.append(identity, [-1, -1]), photos)
    assert target[-2] == 0 and target[-1] == -1
