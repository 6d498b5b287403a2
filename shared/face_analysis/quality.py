"""A 0..1 score of how much a face can be trusted for clustering.

Clustering works best on faces that are large, sharp, frontal and certainly faces; the
others (motion blur, a head in the background, a profile) are where wrong merges come from.
Each factor is mapped to 0..1 and the score is their geometric mean, so one poor factor
lowers the score clearly without zeroing it, and the result is comparable across packs.
Sharpness is measured on the aligned chip, so it does not depend on the photo's resolution.
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


def face_quality(det_score: float, box: np.ndarray, landmarks: np.ndarray, chip: np.ndarray) -> float:
    """Geometric mean of detector confidence, size, sharpness and frontalness, in 0..1."""
    short_side = float(min(box[2] - box[0], box[3] - box[1]))
    variance = sharpness(chip)
    factors = (
        float(np.clip(det_score, 0.0, 1.0)),
        float(np.clip(short_side / FULL_SIZE_PX, 0.0, 1.0)),
        variance / (variance + HALF_SHARPNESS),
        frontalness(landmarks),
    )
    return float(np.prod(np.maximum(factors, 1e-6)) ** (1.0 / len(factors)))
