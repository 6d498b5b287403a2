"""Which new face is which old face on the same photo: boxes matched one to one by overlap.

Two packs find the same faces with slightly different boxes (YuNet's are tighter than
SCRFD's), so equality is useless and overlap (IoU) is the evidence. The pairing maximises
the total IoU over the photo (Hungarian assignment), so two people side by side are never
swapped for a locally better pair, and a pair below :data:`MIN_IOU` is no match: a face
only one pack found is new (or gone), not someone else's.

Pure: boxes in, index pairs out; :mod:`shared.reembed.service` applies the pairs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

# YuNet → SCRFD-500M on 62 photos of ../shared/data/faces (the bbt identities of dev and the
# group photos, 91 faces): the same face overlaps with median IoU 0.85 (5th percentile 0.65),
# another face of the same photo never above 0.0. 0.4 keeps a wide margin on both sides.
MIN_IOU = 0.4
# One pack, one photo: a box overlapping a user-placed face this much is that face (YuNet's box
# of a face and the one find_face_in_box draws around it overlap far more; two faces never do).
SAME_FACE_IOU = 0.5

Box = Sequence[float]  # x1, y1, x2, y2


def iou_matrix(old: Sequence[Box], new: Sequence[Box]) -> np.ndarray:
    """IoU of every old box (rows) with every new box (columns)."""
    a = np.asarray(old, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(new, dtype=np.float64).reshape(-1, 4)
    width = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    height = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = width * height
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def match_boxes(old: Sequence[Box], new: Sequence[Box], min_iou: float = MIN_IOU) -> list[tuple[int, int]]:
    """(old index, new index) pairs of the same face, one to one, sorted by old index."""
    if not len(old) or not len(new):
        return []
    overlap = iou_matrix(old, new)
    rows, cols = linear_sum_assignment(overlap, maximize=True)
    return sorted((int(r), int(c)) for r, c in zip(rows, cols, strict=True) if overlap[r, c] >= min_iou)


def covered(boxes: Sequence[Box], kept: Sequence[Box], min_iou: float = SAME_FACE_IOU) -> list[bool]:
    """For each box, whether it is one of the ``kept`` faces (overlaps one by at least ``min_iou``)."""
    if not len(boxes) or not len(kept):
        return [False] * len(boxes)
    return [bool(row.max() >= min_iou) for row in iou_matrix(boxes, kept)]
