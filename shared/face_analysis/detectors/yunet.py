"""YuNet (MIT, OpenCV Zoo) on OpenVINO, its outputs decoded here as OpenCV's ``FaceDetectorYN`` does.

OpenCV's own ``FaceDetectorYN`` ran the network at 1280x960 (the default ``DET_SIZE``) in
~65 ms of CPU per photo, a third of the whole pipeline; OpenVINO runs the same ONNX file in
~20 ms. The decoding is OpenCV's (``modules/objdetect/src/face_detect.cpp``): the image, BGR
0..255, is padded at the bottom-right to a multiple of 32; each cell of strides 8/16/32 scores
sqrt(cls x obj), its box is a centre offset and a log size in strides, its five landmarks
offsets in strides; then NMS at 0.3.

The network takes any input size (a dynamic shape), so photos of any aspect ratio share one
compiled model, and concurrent calls each make their own infer request. Each call runs on one
thread: the service analyses 2 x vCPU images at once, and a second thread per call cost ~25 %
more CPU for the same detections (measured on 12 Mpx photos, 2 cores).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from shared.face_analysis.detectors import Detection, resize_to_input
from shared.face_analysis.openvino_models import get_compiled_model, infer_request

_STRIDES = (8, 16, 32)
_NMS_THRESHOLD = 0.3
_TOP_K = 5000
_INFERENCE_THREADS = 1


class YuNetDetector:
    def __init__(self, path: Path, threshold: float, det_size: tuple[int, int]) -> None:
        self._model = get_compiled_model(path, (1, 3, -1, -1), _INFERENCE_THREADS, rgb_pixels_in=True,
                                         full_precision=True)
        self._threshold = threshold
        self._det_size = det_size

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        resized, factors = resize_to_input(rgb, self._det_size)
        height, width = resized.shape[:2]
        padded = cv2.copyMakeBorder(resized, 0, -height % _STRIDES[-1], 0, -width % _STRIDES[-1],
                                    cv2.BORDER_CONSTANT, value=0)
        with infer_request(self._model) as request:
            request.infer({0: padded[None]}, share_inputs=True)
            boxes, landmarks, scores = _decode(lambda name: request.get_tensor(name).data, padded.shape[1],
                                               self._threshold)
        keep = cv2.dnn.NMSBoxes(boxes.tolist(), scores.tolist(), self._threshold, _NMS_THRESHOLD, top_k=_TOP_K)
        detections = []
        for index in np.asarray(keep, dtype=int).reshape(-1):
            x, y, w, h = boxes[index]
            box = np.array([x, y, x + w, y + h], dtype=np.float32) * np.tile(factors, 2)
            detections.append(Detection(box, landmarks[index] * factors, float(scores[index])))
        return sorted(detections, key=lambda d: -d.score)


def _decode(output: Callable[[str], np.ndarray], padded_w: int, threshold: float,
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boxes (N, 4) as x, y, w, h, landmarks (N, 5, 2) and scores (N,) of the cells scoring >= threshold."""
    boxes, landmarks, scores = [], [], []
    for stride in _STRIDES:
        cols = padded_w // stride
        cls = np.clip(output(f"cls_{stride}").reshape(-1), 0, 1)
        obj = np.clip(output(f"obj_{stride}").reshape(-1), 0, 1)
        score = np.sqrt(cls * obj)
        cells = np.flatnonzero(score >= threshold)
        offsets = output(f"bbox_{stride}").reshape(-1, 4)[cells]
        points = output(f"kps_{stride}").reshape(-1, 5, 2)[cells]
        origin = np.stack([cells % cols, cells // cols], axis=1).astype(np.float32)  # (col, row)
        centre = (origin + offsets[:, :2]) * stride
        size = np.exp(offsets[:, 2:]) * stride
        boxes.append(np.hstack([centre - size / 2, size]))
        landmarks.append((points + origin[:, None, :]) * stride)
        scores.append(score[cells])
    return (np.concatenate(boxes).astype(np.float32), np.concatenate(landmarks).astype(np.float32),
            np.concatenate(scores).astype(np.float32))
