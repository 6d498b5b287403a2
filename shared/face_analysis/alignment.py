"""Template alignment: a similarity transform that puts the five landmarks on fixed spots.

The least-squares similarity (Umeyama) from the detector's five points to a recogniser's
reference points: for ArcFace, InsightFace's ``norm_crop`` onto the 112x112 template; for
Intel's re-identification model, its own 128x128 template. Recognisers trained on a template
lose accuracy with any other crop, so each is reproduced exactly. (dlib's recogniser has its
own alignment, from its 5-point shape predictor.)

A face whose landmarks span only a few pixels would be blown up into a chip made of
interpolation, and its embedding would be noise that still looks like a face to clustering:
such a face is refused with :class:`AlignmentError`, and the analyser drops it with the reason.
"""

from __future__ import annotations

import cv2
import numpy as np

ARCFACE_TEMPLATE = np.array([
    [38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041],
], dtype=np.float64)
ARCFACE_SIZE = 112
# The largest magnification a chip may have over the pixels it is cut from. At 8x a face's five
# points span ~6 px of the photo (a 128 px chip from a face ~13 px wide): below any face size
# the pipeline keeps (MIN_FACE_SIZE, 20 px by default), so only degenerate landmarks reach it.
MAX_UPSCALE = 8.0


class AlignmentError(ValueError):
    """The landmarks cannot give a usable chip; ``reason`` is a stable machine-readable word."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


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


def warp_to_template(rgb: np.ndarray, landmarks: np.ndarray, template: np.ndarray, size: int) -> np.ndarray:
    """The size x size chip whose landmarks sit on ``template``; AlignmentError if it cannot be cut."""
    points = np.asarray(landmarks, dtype=np.float64)
    if not np.all(np.isfinite(points)):
        raise AlignmentError("landmarks_not_finite", "the detector gave landmarks that are not numbers")
    if points.var(axis=0).sum() == 0:
        raise AlignmentError("too_small_to_align", "the five landmarks are one point")
    matrix = similarity_transform(points, template)
    upscale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    if not np.isfinite(upscale) or upscale > MAX_UPSCALE:
        raise AlignmentError("too_small_to_align",
                             f"the landmarks would be magnified {upscale:.1f}x (at most {MAX_UPSCALE:g}x)")
    return cv2.warpAffine(rgb, matrix, (size, size), borderValue=0.0)


def norm_crop(rgb: np.ndarray, landmarks: np.ndarray, size: int = ARCFACE_SIZE) -> np.ndarray:
    """The aligned size x size face chip for ArcFace."""
    return warp_to_template(rgb, landmarks, ARCFACE_TEMPLATE * (size / ARCFACE_SIZE), size)
