"""Face detectors behind one interface: RGB pixels in, boxes + five landmarks + scores out.

Each detector scales the image to fit its input size (``DET_SIZE``) itself and returns
coordinates in the pixels of the array it was given, so the caller only maps them from
that array to the original image.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class Detection:
    """One face in the coordinates of the analysed array: box (4,), landmarks (5, 2), score."""

    box: np.ndarray
    landmarks: np.ndarray
    score: float

    def scaled(self, factor: float) -> Detection:
        return Detection(self.box * factor, self.landmarks * factor, self.score)


class Detector(Protocol):
    def detect(self, rgb: np.ndarray) -> list[Detection]:
        """Faces scoring at least the detector's threshold, best first."""


# The input size YuNet and SCRFD were trained at. Their largest anchors cover faces of a few
# hundred pixels at this size, so a small image blown up further loses its faces.
TRAINED_SIZE = 640


def fit_scale(width: int, height: int, det_size: tuple[int, int]) -> float:
    """The factor that makes a width x height image fit in det_size, keeping its aspect ratio."""
    return min(det_size[0] / width, det_size[1] / height)


def input_scale(width: int, height: int, det_size: tuple[int, int]) -> float:
    """The detector's input scale: large images shrink to fit det_size; small ones grow to fit it,
    but no further than TRAINED_SIZE (a larger DET_SIZE is for finding small faces in big photos)."""
    scale = fit_scale(width, height, det_size)
    if scale > 1:
        scale = min(scale, max(1.0, TRAINED_SIZE / max(width, height)))
    return scale


def resize_to_input(rgb: np.ndarray, det_size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """``rgb`` resized to the detector's input scale, and the (x, y) factors that map the resized
    array's coordinates back to ``rgb``'s (per axis: the size is rounded)."""
    import cv2  # not at the top: recogniser worker processes import this package and need no OpenCV

    height, width = rgb.shape[:2]
    scale = input_scale(width, height, det_size)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resized = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    return resized, np.array([width / size[0], height / size[1]], dtype=np.float32)


def create_detector(kind: str, path: Path, threshold: float, det_size: tuple[int, int],
                    intra_op_threads: int) -> Detector:
    if kind == "yunet":
        from shared.face_analysis.detectors.yunet import YuNetDetector
        return YuNetDetector(path, threshold, det_size)
    if kind == "scrfd":
        from shared.face_analysis.detectors.scrfd import ScrfdDetector
        return ScrfdDetector(path, threshold, det_size, intra_op_threads)
    raise ValueError(f"unknown detector {kind!r}")
