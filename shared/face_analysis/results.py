"""What analysing one image produces: the faces found, in the image's own pixel coordinates."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Face:
    """One detected face.

    ``bbox`` (x1, y1, x2, y2) and ``landmarks`` are in pixels of the original image after EXIF
    orientation, whatever resolution the pipeline decoded internally. The five landmarks are
    in InsightFace's order, image-left first: right eye, left eye, nose, right mouth corner,
    left mouth corner (of the person). ``embedding`` is float32 and L2-normalised, so cosine
    similarity is a dot product whatever the recogniser. ``quality`` in 0..1 lets clustering
    leave blurred, tiny or doubtful faces out.
    """

    bbox: tuple[float, float, float, float]
    landmarks: tuple[tuple[float, float], ...]
    det_score: float
    quality: float
    embedding: np.ndarray = field(repr=False)
    model: str
    thumbnail: bytes = field(repr=False)


@dataclass(frozen=True)
class ImageAnalysis:
    """The faces of one image, with the image's size after EXIF orientation.

    ``dropped`` counts detections left out by reason (``too_small_to_align`` ...): a face whose
    chip could not be cut is never embedded, and the count says that it was there.
    """

    width: int
    height: int
    faces: list[Face]
    dropped: dict[str, int] = field(default_factory=dict)
