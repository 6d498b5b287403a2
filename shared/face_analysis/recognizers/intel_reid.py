"""Intel's face-reidentification-retail-0095 (Open Model Zoo, Apache-2.0, 256-d) on OpenVINO.

The licence-clean default recogniser: a MobileNetV2 of 1.1 M parameters that separates people
dlib's ResNet confuses (issue #12 has the measurements) at ~1.5 ms per face on one core instead
of ~75 ms. OpenVINO releases the GIL while it runs, so the network runs in the analysing process
(no worker processes as for dlib) and all faces of an image go through it in one call: the model
is reshaped to a dynamic batch at load.

Chips are the five landmarks moved by a similarity transform onto Intel's template, 128x128,
**BGR** with values 0..255 and no normalisation (the IR has its own). The network is checked
at load: an input that cannot take such a batch, or an output that is not ``dim`` numbers per
face, is refused there rather than stored as embeddings nobody can compare.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from shared.face_analysis.alignment import warp_to_template
from shared.face_analysis.detectors import Detection
from shared.face_analysis.errors import ModelFilesError
from shared.face_analysis.openvino_models import get_compiled_model, infer_request
from shared.face_analysis.recognizers import l2_normalise

CHIP_SIZE = 128
# Intel's reference points in [0, 1] of the chip (../shared/models/PROVENANCE.md section 4), image-left
# first like the detectors' landmarks: eyes, nose tip, mouth corners.
TEMPLATE = np.array([
    [0.31556875, 0.46157411], [0.68262292, 0.46157411], [0.50026250, 0.64050536],
    [0.34947188, 0.82469196], [0.65343646, 0.82469196],
], dtype=np.float64) * CHIP_SIZE


class IntelReidRecognizer:
    # The template puts the eyes 47 px apart on 128 px, about 0.45 of a detector box's width:
    # a box ~105 px wide fills the chip without upsampling.
    full_detail_face_px = 105.0

    def __init__(self, network_path: Path, dim: int, threads: int) -> None:
        try:
            self._model = get_compiled_model(network_path, (-1, 3, CHIP_SIZE, CHIP_SIZE), threads)
        except RuntimeError as error:  # OpenVINO's errors for unreadable files and impossible reshapes
            raise ModelFilesError(f"model file {network_path} cannot run as a face recogniser on "
                                  f"[N, 3, {CHIP_SIZE}, {CHIP_SIZE}] chips: {str(error).splitlines()[0]}") from None
        output = self._model.output(0).get_partial_shape()
        per_face = list(output)[1:]
        if any(d.is_dynamic for d in per_face) or int(np.prod([d.get_length() for d in per_face])) != dim:
            raise ModelFilesError(f"model file {network_path} outputs {output} per batch, not {dim} numbers per face: "
                                  f"not the recogniser this pack expects (refused)")
        self.dim = dim

    def align(self, rgb: np.ndarray, detection: Detection) -> np.ndarray:
        return warp_to_template(rgb, detection.landmarks, TEMPLATE, CHIP_SIZE)

    def embed(self, chips: list[np.ndarray]) -> np.ndarray:
        if not chips:
            return np.zeros((0, self.dim), dtype=np.float32)
        blob = np.ascontiguousarray(np.stack(chips)[..., ::-1].transpose(0, 3, 1, 2), dtype=np.float32)
        with infer_request(self._model) as request:
            request.infer({0: blob})
            return l2_normalise(request.get_output_tensor(0).data.reshape(len(chips), -1))

    def close(self) -> None:
        """Compiled models are shared per process and live as long as it does."""
