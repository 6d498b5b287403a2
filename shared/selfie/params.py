"""How close a selfie must be to an event's faces, per recogniser.

The selfie is matched with the clustering's own rule (:func:`shared.clustering.noise.choose_person`),
but with its own distances: a selfie is one face taken elsewhere (another day, light, camera),
and a wrong answer shows a member photos of a stranger, so the values are chosen precision
first on dev, dev2 and the group photos separately (``bench/selfie_search.py --sweep``;
docs/selfie-search.md has the measurements), inside the plateau of every set.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SelfieParams:
    person_distance: float  # farthest a person's nearest face may be from the selfie
    margin: float           # how much nearer that person must be than any other person
    face_distance: float    # farthest an unclustered face may be from the selfie


# Filled from bench/selfie_search.py --sweep (see docs/selfie-search.md).
INTEL_REID = SelfieParams(person_distance=1.09, margin=0.04, face_distance=0.98)
DLIB = SelfieParams(person_distance=0.38, margin=0.02, face_distance=0.30)
# ArcFace: not measurable here (no weights); the clustering's attach distance and margin.
ARCFACE = SelfieParams(person_distance=0.95, margin=0.05, face_distance=0.9)


def selfie_params(model: str) -> SelfieParams:
    """The selfie distances of a model pack id (same families as the clustering defaults)."""
    if model.endswith("-dlib") or model == "dlib":
        return DLIB
    if model.startswith("yunet-reid256"):
        return INTEL_REID
    if model.startswith("buffalo") or "arcface" in model:
        return ARCFACE
    raise ValueError(f"no selfie distances for model {model!r}")
