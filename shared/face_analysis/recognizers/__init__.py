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
        """The aligned RGB chip of one face, from pixels at any scale (detection in their coordinates);
        raises ``AlignmentError`` when the face cannot give a usable chip."""

    def embed(self, chips: list[np.ndarray]) -> np.ndarray:
        """Embeddings (N, dim), float32, L2-normalised."""

    def close(self) -> None:
        """Release worker processes, if any."""


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def create_recognizer(kind: str, files: tuple[Path, ...], dim: int, threads: int, intra_op_threads: int,
                      ) -> Recognizer:
    """``files`` are the pack's recogniser files, in the pack's order; ``dim`` its embedding size.

    ``threads`` is ``RECOGNIZER_THREADS``: dlib's descriptor holds the GIL, so for it these are
    worker processes; OpenVINO releases it, so for Intel's model they are inference threads.
    """
    if kind == "dlib_resnet":
        from shared.face_analysis.recognizers.dlib_resnet import DlibResnetRecognizer
        shape_predictor, network = files
        return DlibResnetRecognizer(shape_predictor, network, threads)
    if kind == "arcface":
        from shared.face_analysis.recognizers.arcface import ArcFaceRecognizer
        (network,) = files
        return ArcFaceRecognizer(network, intra_op_threads)
    if kind == "intel_reid":
        from shared.face_analysis.recognizers.intel_reid import IntelReidRecognizer
        network, _weights = files  # the .bin is read by OpenVINO beside the .xml; both are checked
        return IntelReidRecognizer(network, dim, threads)
    raise ValueError(f"unknown recogniser {kind!r}")
