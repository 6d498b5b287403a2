"""YuNet (MIT, OpenCV Zoo) through OpenCV's ``FaceDetectorYN``, which decodes its outputs.

``FaceDetectorYN`` keeps per-call state (the input size), so calls are serialised with a
lock; at a few milliseconds per call that costs nothing next to the recogniser.
"""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np

from shared.face_analysis.detectors import Detection, resize_to_input

_NMS_THRESHOLD = 0.3
_TOP_K = 5000


class YuNetDetector:
    def __init__(self, path: Path, threshold: float, det_size: tuple[int, int]) -> None:
        self._det_size = det_size
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)  # per-call backend notices
        self._model = cv2.FaceDetectorYN.create(str(path), "", det_size, threshold, _NMS_THRESHOLD, _TOP_K)
        self._lock = threading.Lock()

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        resized, factors = resize_to_input(rgb, self._det_size)
        bgr = cv2.cvtColor(resized, cv2.COLOR_RGB2BGR)
        with self._lock:
            self._model.setInputSize((bgr.shape[1], bgr.shape[0]))
            _, rows = self._model.detect(bgr)
        if rows is None:
            return []
        detections = []
        for row in rows:
            x, y, w, h = row[:4]
            box = np.array([x, y, x + w, y + h], dtype=np.float32) * np.tile(factors, 2)
            landmarks = row[4:14].reshape(5, 2).astype(np.float32) * factors
            detections.append(Detection(box, landmarks, float(row[14])))
        return sorted(detections, key=lambda d: -d.score)
