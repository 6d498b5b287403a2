"""The matching rule: which persons and unclustered faces of an event a selfie is.

Input is the selfie's nearest faces of the event (same model), each with its person or
``None`` when the face is in no person. The rule is the clustering's, so a selfie gets the
answer a face of the event would get:

* each person's distance is its nearest face's (as in the noise pass and incremental
  assignment); the person is the selfie's when :func:`choose_person` says so: within
  ``person_distance`` and at least ``margin`` nearer than any other person. A person comes
  back whole (all its photos), since the clustering already decided those faces are one
  person;
* a selfie between two persons (no margin) is nobody: no person and no face is returned,
  because the faces around it are as ambiguous as the persons;
* unclustered faces (no person yet: clustering has not run, or they were noise) are returned
  one by one when within the stricter ``face_distance``; faces below the clustering's quality
  bar are never returned (their embeddings land anywhere, which is why clustering skips them).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import numpy as np

from shared.clustering.noise import choose_person
from shared.selfie.params import SelfieParams

FaceKey = TypeVar("FaceKey", bound=Hashable)
PersonKey = TypeVar("PersonKey", bound=Hashable)


@dataclass(frozen=True)
class Neighbour(Generic[FaceKey, PersonKey]):
    """One of the selfie's nearest faces: Euclidean distance on the unit sphere (0..2)."""

    face: FaceKey
    person: PersonKey | None
    distance: float
    quality: float


@dataclass(frozen=True)
class SelfieMatch(Generic[FaceKey, PersonKey]):
    """The person the selfie is (or none) and the unclustered faces that are the selfie."""

    person: PersonKey | None = None
    person_distance: float = 0.0
    faces: list[tuple[FaceKey, float]] = field(default_factory=list)
    ambiguous: bool = False  # the selfie is near two persons with no margin: nobody is returned


def similarity(distance: float) -> float:
    """Cosine similarity for a distance between unit vectors: the score shown to people."""
    return round(1.0 - distance * distance / 2.0, 4)


def match_selfie(neighbours: Iterable[Neighbour[FaceKey, PersonKey]], params: SelfieParams,
                 min_quality: float, unseen_beyond: float = math.inf) -> SelfieMatch[FaceKey, PersonKey]:
    """Apply the rule to the selfie's nearest faces (any order; the nearest per person counts).

    ``unseen_beyond``: when only the nearest faces were fetched, the farthest of them; a person
    not among them is at least that far, so a person chosen with less margin than that is not
    clearly the selfie's (as in the noise pass, the evidence cannot tell: nobody is returned).
    """
    nearest: dict[PersonKey, float] = {}
    loose: list[tuple[FaceKey, float]] = []
    for item in neighbours:
        if item.person is not None:
            nearest[item.person] = min(item.distance, nearest.get(item.person, item.distance))
        elif item.quality >= min_quality and item.distance <= params.face_distance:
            loose.append((item.face, item.distance))
    person = choose_person(nearest, params.person_distance, params.margin)
    undecided = person is not None and unseen_beyond - nearest[person] < params.margin
    if undecided or (person is None and nearest and min(nearest.values()) <= params.person_distance):
        return SelfieMatch(ambiguous=True)
    loose.sort(key=lambda pair: pair[1])
    if person is None:
        return SelfieMatch(faces=loose)
    return SelfieMatch(person, nearest[person], loose)


def neighbours_in(selfie: np.ndarray, embeddings: np.ndarray, persons: np.ndarray,
                  quality: np.ndarray) -> list[Neighbour[int, int]]:
    """Every face of an in-memory event as a neighbour (face = row, person = label, -1 = none).

    Exact distances to all faces: the offline command and the benchmark hold a few thousand
    faces at most, where one matrix product costs less than an index.
    """
    distances = np.sqrt(np.clip(2.0 - 2.0 * (embeddings @ selfie.astype(np.float32)), 0.0, None))
    return [Neighbour(row, int(label) if label >= 0 else None, float(distance), float(q))
            for row, (label, distance, q) in enumerate(zip(persons.tolist(), distances.tolist(), quality.tolist(),
                                                         strict=True))]


def matched_rows(selfie: np.ndarray, embeddings: np.ndarray, persons: np.ndarray, quality: np.ndarray,
                 params: SelfieParams, min_quality: float) -> dict[int, float]:
    """In-memory search: row → distance of every face returned (the person's faces and loose ones)."""
    neighbours = neighbours_in(selfie, embeddings, persons, quality)
    found = match_selfie(neighbours, params, min_quality)
    rows = dict(found.faces)
    if found.person is not None:
        rows.update({row: neighbours[row].distance for row in np.flatnonzero(persons == found.person).tolist()})
    return rows
