"""Merge suggestions: pairs of persons that are probably one person, best first.

Precision-first clustering splits some people in two (a split person is one click to merge, a
mixed one cannot be untangled); suggestions are that click. The rule, shared by the endpoint
(pgvector, :mod:`shared.db.suggestions`) and the offline ``facecluster cluster-photos
--suggestions`` (numpy, :func:`suggest_merges`):

* the score of two persons is the cosine similarity of their mean embeddings (the mean of
  L2-normalised vectors: a person's centre, which many faces make steadier than any one face);
* a pair is offered only when the score reaches the model's :func:`min_similarity`, never when
  the two share a photo (cannot-link: one photo shows two different people), never when an
  organiser said they are different, never with an ignored or merged person;
* best first: score descending, then the persons' ids, so equal scores list the same way.

Per-model thresholds (``bench/merge_suggestions.py`` measured them on dev, dev2 and
group_photos, precision first; docs/clustering.md, "Merge suggestions", has the figures) are keyed by the
model's clustering defaults, so a model gets suggestions exactly when it gets clustering.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable
from dataclasses import dataclass

import numpy as np

from shared.clustering.params import ARCFACE_DEFAULTS, DLIB_DEFAULTS, INTEL_REID_DEFAULTS, model_defaults

# Intel reid256: different people's centres are at most 0.41 similar (dev2; dev 0.33, group
# photos 0.31), pieces of one person from 0.55 up: 0.50. dlib: different people up to 0.955
# (dev2; dev 0.950, group photos 0.924), pieces of one person mostly 0.96-0.99: 0.96, right at
# the edge (dlib is the fallback recogniser). ArcFace: NOT measured (no weights here); its usual
# verification threshold on single faces is about 0.4-0.5, centres are steadier: 0.5.
_MIN_SIMILARITY = {INTEL_REID_DEFAULTS: 0.50, DLIB_DEFAULTS: 0.96, ARCFACE_DEFAULTS: 0.50}

DEFAULT_LIMIT = 10


def min_similarity(model: str, dimension: int | None = None) -> float:
    """The lowest score a pair of this model's persons needs to be suggested."""
    return _MIN_SIMILARITY[model_defaults(model, dimension)]


@dataclass(frozen=True)
class Suggestion:
    """Two persons (ids, or labels offline) that are probably one, and how alike they are."""

    a: Hashable
    b: Hashable
    score: float


def pair_key(a: Hashable, b: Hashable) -> frozenset[Hashable]:
    """An unordered pair: "not the same person" holds in both directions."""
    return frozenset((a, b))


def suggest_merges(embeddings: np.ndarray, labels: np.ndarray, photo_ids: np.ndarray, threshold: float, *,
                   limit: int | None = DEFAULT_LIMIT,
                   different: Collection[frozenset[Hashable]] = ()) -> list[Suggestion]:
    """Suggestions among clustered faces (``labels`` -1: unassigned), the rule of the module docstring.

    What the endpoint computes in SQL, computed here on arrays: used offline and to check the
    two agree. ``limit`` None: every pair above the threshold.
    """
    persons = sorted(set(labels[labels >= 0].tolist()))
    if len(persons) < 2:
        return []
    centres = np.stack([embeddings[labels == person].mean(axis=0) for person in persons])
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    similarity = centres @ centres.T
    photos = [set(photo_ids[labels == person].tolist()) for person in persons]
    suggestions = [
        Suggestion(persons[i], persons[j], round(float(similarity[i, j]), 4))
        for i in range(len(persons)) for j in range(i + 1, len(persons))
        if similarity[i, j] >= threshold and not photos[i] & photos[j]
        and pair_key(persons[i], persons[j]) not in different
    ]
    suggestions.sort(key=lambda s: (-s.score, str(s.a), str(s.b)))
    return suggestions[:limit]
