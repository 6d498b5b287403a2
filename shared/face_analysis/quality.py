"""A 0..1 score of how much a face can be trusted for clustering.

Clustering works best on faces that are large, sharp, frontal and certainly faces; the
others (motion blur, a head in the background, a profile) are where wrong merges come from.
Each factor is mapped to 0..1 and the score is their geometric mean, so one poor factor
lowers the score clearly without zeroing it, and the result is comparable across packs.
Sharpness is measured on the aligned chip, so it does not depend on the photo's resolution.

Two conditions make a face unusable however good the rest is, so they *multiply* the score
(falling linearly to 0) instead of joining the mean: a face cut by the photo's border (the
recogniser sees half a face and the embedding lands anywhere) and a face too small to carry
its identity (a 24 px head upscaled to a chip is mostly interpolation). Measured on
``../shared/data/faces`` (``bench/cluster_quality.py``, docs/clustering.md), these are the faces
that built the "junk persons" of background strangers; no labelled face is that close to the
border or that small.
"""

from __future__ import annotations

import cv2
import numpy as np

# Face short side (px in the original photo) from which size no longer limits quality.
FULL_SIZE_PX = 80.0
# Laplacian variance of a 112 px grey chip at which sharpness scores 0.5.
HALF_SHARPNESS = 60.0
# Nose offset from the eye midpoint, as a fraction of the eye distance, that scores 0 (profile).
PROFILE_YAW = 0.6
# Distance of the nearest landmark to the photo's border, in eye distances, from which the face
# counts as whole (the forehead and chin extend about that far beyond the eyes and mouth).
WHOLE_FACE_MARGIN = 0.75
# Face short side (px in the original photo) at which a face carries no identity, and from which
# it is legible.
ILLEGIBLE_FACE_PX = 24.0
LEGIBLE_FACE_PX = 40.0


def sharpness(chip: np.ndarray) -> float:
    """Variance of the Laplacian of the chip at 112 px, grey: high for crisp edges, low for blur."""
    grey = cv2.cvtColor(chip, cv2.COLOR_RGB2GRAY)
    if grey.shape[0] != 112:
        grey = cv2.resize(grey, (112, 112), interpolation=cv2.INTER_AREA)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def frontalness(landmarks: np.ndarray) -> float:
    """1 for a frontal face, falling to 0 as the nose moves towards one eye (yaw)."""
    right_eye, left_eye, nose = landmarks[0], landmarks[1], landmarks[2]
    eye_distance = float(np.linalg.norm(left_eye - right_eye))
    if eye_distance < 1e-6:
        return 0.0
    axis = (left_eye - right_eye) / eye_distance
    offset = abs(float(np.dot(nose - (left_eye + right_eye) / 2, axis))) / eye_distance
    return float(np.clip(1.0 - offset / PROFILE_YAW, 0.0, 1.0))


def wholeness(landmarks: np.ndarray, width: int, height: int) -> float:
    """1 for a face well inside the photo, falling to 0 as its landmarks reach the border.

    Landmarks, not the box: detectors extrapolate boxes past the border differently, while a
    landmark near the edge means the face around it is cut off.
    """
    eye_distance = float(np.linalg.norm(landmarks[1] - landmarks[0]))
    if eye_distance < 1e-6:
        return 0.0
    margin = min(float(landmarks[:, 0].min()), float(landmarks[:, 1].min()),
                 width - float(landmarks[:, 0].max()), height - float(landmarks[:, 1].max()))
    return float(np.clip(margin / (WHOLE_FACE_MARGIN * eye_distance), 0.0, 1.0))


def legibility(short_side: float) -> float:
    """0 for a face too small to carry an identity, 1 from ``LEGIBLE_FACE_PX`` on."""
    return float(np.clip((short_side - ILLEGIBLE_FACE_PX) / (LEGIBLE_FACE_PX - ILLEGIBLE_FACE_PX), 0.0, 1.0))


def face_quality(det_score: float, box: np.ndarray, landmarks: np.ndarray, chip: np.ndarray,
                 image_size: tuple[int, int]) -> float:
    """Geometric mean of detector confidence, size, sharpness and frontalness, times wholeness and
    legibility, in 0..1. ``box`` and ``landmarks`` are the detector's (not clipped to the photo),
    ``image_size`` is (width, height) in the same pixels."""
    landmarks = np.asarray(landmarks, dtype=np.float64)
    short_side = float(min(box[2] - box[0], box[3] - box[1]))
    variance = sharpness(chip)
    factors = (
        float(np.clip(det_score, 0.0, 1.0)),
        float(np.clip(short_side / FULL_SIZE_PX, 0.0, 1.0)),
        variance / (variance + HALF_SHARPNESS),
        frontalness(landmarks),
    )
    mean = float(np.prod(np.maximum(factors, 1e-6)) ** (1.0 / len(factors)))
    return mean * wholeness(landmarks, *image_size) * legibility(short_side)
