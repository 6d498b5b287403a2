"""ArcFace alignment: a similarity transform that puts the five landmarks on fixed spots.

This is InsightFace's ``norm_crop``: the least-squares similarity (Umeyama) from the
detector's five points to the reference points of the 112x112 ArcFace template. Recognisers
trained on that template lose accuracy with any other crop, so it is reproduced exactly.
(dlib's recogniser has its own alignment, from its 5-point shape predictor.)
"""

from __future__ import annotations

import cv2
import numpy as np

ARCFACE_TEMPLATE = np.array([
    [38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041],
], dtype=np.float64)
ARCFACE_SIZE = 112


def similarity_transform(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The 2x3 matrix of the least-squares similarity mapping source points onto target points."""
    src = np.asarray(source, dtype=np.float64)
    dst = np.asarray(target, dtype=np.float64)
    src_mean, dst_mean = src.mean(axis=0), dst.mean(axis=0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    covariance = dst_c.T @ src_c / len(src)
    u, singular, vt = np.linalg.svd(covariance)
    sign = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1, 1] = -1
    rotation = u @ sign @ vt
    scale = (singular * np.diag(sign)).sum() / src_c.var(axis=0).sum()
    translation = dst_mean - scale * rotation @ src_mean
    return np.hstack([scale * rotation, translation[:, None]])


def norm_crop(rgb: np.ndarray, landmarks: np.ndarray, size: int = ARCFACE_SIZE) -> np.ndarray:
    """The aligned size x size face chip for ArcFace."""
    template = ARCFACE_TEMPLATE * (size / ARCFACE_SIZE)
    matrix = similarity_transform(landmarks, template)
    return cv2.warpAffine(rgb, matrix, (size, size), borderValue=0.0)
