"""SCRFD (InsightFace det_500m / det_2.5g / det_10g) on onnxruntime, decoded here.

Decoding follows InsightFace's ``SCRFD`` class (anchor-free distances on strides 8/16/32,
two anchors per cell, NMS at 0.4) without depending on the ``insightface`` package, whose
install pulls a compiler toolchain. The image is letterboxed into ``DET_SIZE`` at the
top-left, normalised as (x - 127.5) / 128, RGB.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from shared.face_analysis.detectors import Detection, resize_to_input
from shared.face_analysis.sessions import get_session

_STRIDES = (8, 16, 32)
_ANCHORS_PER_CELL = 2
_NMS_THRESHOLD = 0.4
# SCRFD misses a face that fills the whole frame (a profile picture, a face crop): its largest
# anchors are smaller. Small images are padded by this fraction on each side, which costs no
# resolution because they are upscaled to DET_SIZE anyway.
_SMALL_IMAGE_PADDING = 0.3


class ScrfdDetector:
    def __init__(self, path: Path, threshold: float, det_size: tuple[int, int], intra_op_threads: int) -> None:
        self._session = get_session(path, intra_op_threads)
        self._input_name = self._session.get_inputs()[0].name
        self._threshold = threshold
        self._det_size = det_size
        self._centres: dict[tuple[int, int, int], np.ndarray] = {}

    def _anchor_centres(self, rows: int, cols: int, stride: int) -> np.ndarray:
        key = (rows, cols, stride)
        if key not in self._centres:
            ys, xs = np.mgrid[:rows, :cols]
            centres = (np.stack([xs, ys], axis=-1).reshape(-1, 2) * stride).astype(np.float32)
            self._centres[key] = np.repeat(centres, _ANCHORS_PER_CELL, axis=0)
        return self._centres[key]

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        height, width = rgb.shape[:2]
        if max(width, height) * (1 + 2 * _SMALL_IMAGE_PADDING) <= min(self._det_size):
            pad = round(max(width, height) * _SMALL_IMAGE_PADDING)
            padded = cv2.copyMakeBorder(rgb, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(0, 0, 0))
            shift = np.array([pad, pad], dtype=np.float32)
            return [Detection(d.box - np.tile(shift, 2), d.landmarks - shift, d.score)
                    for d in self._detect_fitted(padded)]
        return self._detect_fitted(rgb)

    def _detect_fitted(self, rgb: np.ndarray) -> list[Detection]:
        resized, factors = resize_to_input(rgb, self._det_size)
        canvas = np.zeros((self._det_size[1], self._det_size[0], 3), dtype=np.float32)
        canvas[:resized.shape[0], :resized.shape[1]] = resized
        blob = ((canvas - 127.5) / 128.0).transpose(2, 0, 1)[None]
        outputs = self._session.run(None, {self._input_name: blob})

        scores, boxes, points = [], [], []
        for level, stride in enumerate(_STRIDES):
            level_scores = outputs[level].reshape(-1)
            keep = np.flatnonzero(level_scores >= self._threshold)
            if keep.size == 0:
                continue
            centres = self._anchor_centres(self._det_size[1] // stride, self._det_size[0] // stride, stride)[keep]
            distances = outputs[level + len(_STRIDES)].reshape(-1, 4)[keep] * stride
            offsets = outputs[level + 2 * len(_STRIDES)].reshape(-1, 10)[keep].reshape(-1, 5, 2) * stride
            scores.append(level_scores[keep])
            boxes.append(np.concatenate([centres - distances[:, :2], centres + distances[:, 2:]], axis=1))
            points.append(centres[:, None, :] + offsets)
        if not scores:
            return []
        all_scores = np.concatenate(scores)
        all_boxes = np.concatenate(boxes)
        all_points = np.concatenate(points)
        xywh = np.concatenate([all_boxes[:, :2], all_boxes[:, 2:] - all_boxes[:, :2]], axis=1)
        kept = cv2.dnn.NMSBoxes(xywh.tolist(), all_scores.tolist(), self._threshold, _NMS_THRESHOLD)
        detections = [Detection(all_boxes[i] * np.tile(factors, 2), all_points[i] * factors, float(all_scores[i]))
                      for i in np.asarray(kept).reshape(-1)]
        return sorted(detections, key=lambda d: -d.score)
