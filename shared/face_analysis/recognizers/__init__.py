"""Face recognisers behind one interface: align a detected face into a chip, embed chips.

Alignment happens in the analysing process (it needs the full image); embedding takes only
the small chips, so it can run elsewhere (a process pool, a GPU) without moving images.
Every recogniser returns float32 L2-normalised embeddings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

from shared.face_analysis.detectors import Detection


class Recognizer(Protocol):
    dim: int
    # Box width, in pixels, from which a chip has all the detail the model uses: the
    # analyser decodes at least at the scale that gives every face this width.
    full_detail_face_px: float

    def align(self, rgb: np.ndarray, detection: Detection) -> np.ndarray:
        """The aligned RGB chip of one face, from pixels at any scale (detection in their coordinates)."""

    def embed(self, chips: list[np.ndarray]) -> np.ndarray:
        """Embeddings (N, dim), float32, L2-normalised."""

    def close(self) -> None:
        """Release worker processes, if any."""


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def create_recognizer(kind: str, files: tuple[Path, ...], workers: int, intra_op_threads: int) -> Recognizer:
    """``files`` are the pack's recogniser files, in the pack's order."""
    if kind == "dlib_resnet":
        from shared.face_analysis.recognizers.dlib_resnet import DlibResnetRecognizer
        shape_predictor, network = files
        return DlibResnetRecognizer(shape_predictor, network, workers)
    if kind == "arcface":
        from shared.face_analysis.recognizers.arcface import ArcFaceRecognizer
        (network,) = files
        return ArcFaceRecognizer(network, intra_op_threads)
    raise ValueError(f"unknown recogniser {kind!r}")
