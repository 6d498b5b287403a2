"""dlib's ResNet face descriptor (128-d, public domain): the licence-clean default recogniser.

Alignment is dlib's own: the 5-point shape predictor on the detector's box, then
``get_face_chip`` (150 px, padding 0.25), exactly the chip the network was trained on.
(The detector's five points are different points and must not be passed as dlib's shape.)

The descriptor costs ~75 ms per face on one CPU core and holds the GIL (measured: two
threads are no faster than one), so parallel embedding needs processes: with
``RECOGNIZER_THREADS`` > 1 the chips go to that many worker processes, each holding its own
copy of the network (~25 MB). Only chips (67 kB each) cross the process boundary.
"""

from __future__ import annotations

import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import dlib
import numpy as np

from shared.face_analysis.detectors import Detection
from shared.face_analysis.recognizers import l2_normalise

CHIP_SIZE = 150
CHIP_PADDING = 0.25

_worker_network: dlib.face_recognition_model_v1 | None = None


def _load_worker_network(path: str) -> None:
    global _worker_network
    _worker_network = dlib.face_recognition_model_v1(path)


def _describe_in_worker(chip: np.ndarray) -> np.ndarray:
    assert _worker_network is not None
    return np.asarray(_worker_network.compute_face_descriptor(chip), dtype=np.float32)


class DlibResnetRecognizer:
    dim = 128
    # get_face_chip maps the face (plus padding 0.25) onto 150 px: a detector box ~100 px wide
    # fills the chip without upsampling. Cutting chips from 80 px boxes (upsampled 1.25x) was
    # measured to change embeddings by cosine < 0.004, the size of JPEG re-encoding noise, and
    # lets event photos with faces >= 160 px be embedded from a half-size decode.
    full_detail_face_px = 80.0

    def __init__(self, shape_predictor_path: Path, network_path: Path, workers: int) -> None:
        self._shape_predictor = dlib.shape_predictor(str(shape_predictor_path))
        self._network_path = str(network_path)
        # The in-process network only serves when there are no workers; with them it would be
        # ~22 MB loaded for nothing. (It is loaded on first use if the workers are closed.)
        self._network = dlib.face_recognition_model_v1(self._network_path) if workers <= 1 else None
        self._network_lock = threading.Lock()  # the in-process network keeps per-call state
        self._pool: ProcessPoolExecutor | None = None
        if workers > 1:
            # spawn, not fork: the parent has onnxruntime/OpenCV threads that fork would copy broken.
            self._pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_load_worker_network, initargs=(self._network_path,))

    def align(self, rgb: np.ndarray, detection: Detection) -> np.ndarray:
        x1, y1, x2, y2 = np.rint(detection.box).astype(int).tolist()
        shape = self._shape_predictor(rgb, dlib.rectangle(x1, y1, x2, y2))
        return np.asarray(dlib.get_face_chip(rgb, shape, size=CHIP_SIZE, padding=CHIP_PADDING))

    def embed(self, chips: list[np.ndarray]) -> np.ndarray:
        if not chips:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self._pool is not None:  # even one chip: concurrent single-face images then share the workers
            vectors = list(self._pool.map(_describe_in_worker, chips))
        else:
            with self._network_lock:
                if self._network is None:
                    self._network = dlib.face_recognition_model_v1(self._network_path)
                vectors = [np.asarray(self._network.compute_face_descriptor(chip), dtype=np.float32)
                           for chip in chips]
        return l2_normalise(np.stack(vectors))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None
