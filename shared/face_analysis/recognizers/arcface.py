"""ArcFace (InsightFace ``w600k_*.onnx``, 512-d) on onnxruntime, selected by packs that ship it.

Chips are ``norm_crop`` 112x112 RGB, normalised as (x - 127.5) / 127.5, and all faces of an
image go through the network in one call when its batch dimension is dynamic (as in the
InsightFace release), else one by one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from shared.face_analysis.alignment import ARCFACE_SIZE, norm_crop
from shared.face_analysis.detectors import Detection
from shared.face_analysis.recognizers import l2_normalise
from shared.face_analysis.sessions import get_session


class ArcFaceRecognizer:
    # The template puts the eyes ~35 px apart on 112 px: a box ~80 px wide fills it.
    full_detail_face_px = 80.0

    def __init__(self, path: Path, intra_op_threads: int) -> None:
        self._session = get_session(path, intra_op_threads)
        model_input = self._session.get_inputs()[0]
        self._input_name = model_input.name
        self._batched = not isinstance(model_input.shape[0], int) or model_input.shape[0] != 1
        self.dim = int(self._session.get_outputs()[0].shape[-1])

    def align(self, rgb: np.ndarray, detection: Detection) -> np.ndarray:
        return norm_crop(rgb, detection.landmarks, ARCFACE_SIZE)

    def embed(self, chips: list[np.ndarray]) -> np.ndarray:
        if not chips:
            return np.zeros((0, self.dim), dtype=np.float32)
        blob = ((np.stack(chips).astype(np.float32) - 127.5) / 127.5).transpose(0, 3, 1, 2)
        if self._batched:
            vectors = self._session.run(None, {self._input_name: blob})[0]
        else:
            vectors = np.concatenate([self._session.run(None, {self._input_name: blob[i:i + 1]})[0]
                                      for i in range(len(blob))])
        return l2_normalise(vectors.reshape(len(chips), -1))

    def close(self) -> None:
        """Sessions are shared per process and live as long as it does."""
