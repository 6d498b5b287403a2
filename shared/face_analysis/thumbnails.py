"""A small JPEG of each face for list views, so the app never crops originals on the fly.

The crop is shrunk with OpenCV's area average before Pillow encodes it: Pillow's Lanczos on a
crop of a 12 Mpx photo cost ~3 ms a face, more than embedding it.
"""

from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image

THUMBNAIL_PX = 112
_MARGIN = 0.25  # around the detector box, so hair and chin are visible
_JPEG_QUALITY = 82


def face_thumbnail(rgb: np.ndarray, box: np.ndarray) -> bytes:
    """JPEG of the face box plus margin, its longer side THUMBNAIL_PX (box in ``rgb``'s pixels)."""
    height, width = rgb.shape[:2]
    centre_x, centre_y = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    half = max(box[2] - box[0], box[3] - box[1]) * (1 + 2 * _MARGIN) / 2
    x1, y1 = max(0, int(centre_x - half)), max(0, int(centre_y - half))
    x2, y2 = min(width, int(np.ceil(centre_x + half))), min(height, int(np.ceil(centre_y + half)))
    crop = rgb[y1:max(y2, y1 + 1), x1:max(x2, x1 + 1)]
    crop_h, crop_w = crop.shape[:2]
    factor = THUMBNAIL_PX / max(crop_w, crop_h)
    if factor != 1:
        crop = cv2.resize(crop, (max(1, round(crop_w * factor)), max(1, round(crop_h * factor))),
                          interpolation=cv2.INTER_AREA if factor < 1 else cv2.INTER_CUBIC)
    stream = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(crop)).save(stream, format="JPEG", quality=_JPEG_QUALITY)
    return stream.getvalue()
