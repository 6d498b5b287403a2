"""Identity-structured synthetic embeddings: unit vectors scattered around one centre per person.

Real face embeddings of one person sit in a small cap of the unit sphere; different people are
nearly orthogonal in 128/512 dimensions. Drawing each identity's centre uniformly on the
sphere and each face as centre + Gaussian noise (then re-normalised) reproduces that geometry,
with ``spread`` setting the typical same-person distance.
"""

from __future__ import annotations

import numpy as np


def identity_embeddings(sizes: list[int], dim: int = 128, spread: float = 0.2,
                        seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(embeddings, identity)``: ``sizes[i]`` faces of identity ``i``, float32, L2-normalised."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(len(sizes), dim))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    identity = np.repeat(np.arange(len(sizes)), sizes)
    faces = centres[identity] + rng.normal(scale=spread / np.sqrt(dim), size=(len(identity), dim))
    faces /= np.linalg.norm(faces, axis=1, keepdims=True)
    return faces.astype(np.float32), identity


def near(vector: np.ndarray, distance: float, seed: int = 0) -> np.ndarray:
    """A unit vector about ``distance`` (Euclidean) from ``vector``."""
    rng = np.random.default_rng(seed)
    direction = rng.normal(size=vector.shape)
    direction -= (direction @ vector) * vector
    direction /= np.linalg.norm(direction)
    # Chord length d on the unit sphere is the angle 2 asin(d/2).
    angle = 2 * np.arcsin(distance / 2)
    return (np.cos(angle) * vector + np.sin(angle) * direction).astype(np.float32)
