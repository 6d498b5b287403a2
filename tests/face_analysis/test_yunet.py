"""YuNet on OpenVINO gives OpenCV's FaceDetectorYN's detections: same faces, same landmarks.

The decoding of the network's outputs is re-implemented from OpenCV's; OpenCV still ships
``FaceDetectorYN``, so it is the reference on real group photos.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from shared.face_analysis.detectors import resize_to_input
from shared.face_analysis.detectors.yunet import YuNetDetector
from shared.settings import REPO_ROOT

MODEL = "yunet_sface/face_detection_yunet_2023mar.onnx"
PHOTOS = ["faceapi_bbt1.jpg", "fr_obama_and_biden.jpg", "deepface_selfie-many-people.jpg"]
DET_SIZE = (1280, 1280)


def opencv_detections(path: Path, rgb: np.ndarray) -> list[np.ndarray]:
    """FaceDetectorYN's rows (box x, y, w, h, five landmarks, score) in ``rgb``'s pixels."""
    resized, factors = resize_to_input(rgb, DET_SIZE)
    bgr = cv2.cvtColor(resized, cv2.COLOR_RGB2BGR)
    model = cv2.FaceDetectorYN.create(str(path), "", (bgr.shape[1], bgr.shape[0]), 0.5, 0.3, 5000)
    _, rows = model.detect(bgr)
    return [np.concatenate([row[:14] * np.tile(factors, 7), row[14:15]]) for row in (rows if rows is not None else [])]


@pytest.mark.parametrize("photo", PHOTOS)
def test_detections_match_opencvs(models_dir: Path, faces_data_dir: Path, photo: str) -> None:
    path = faces_data_dir / "group_photos/images" / photo
    rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    ours = YuNetDetector(models_dir / MODEL, 0.5, DET_SIZE).detect(rgb)
    theirs = opencv_detections(models_dir / MODEL, rgb)
    assert len(ours) == len(theirs) >= 2
    for detection in ours:  # each matched to OpenCV's nearest box
        row = min(theirs, key=lambda r: np.abs(r[:2] - detection.box[:2]).sum())
        box = np.array([row[0], row[1], row[0] + row[2], row[1] + row[3]])
        assert np.abs(detection.box - box).max() < 0.5
        assert np.abs(detection.landmarks - row[4:14].reshape(5, 2)).max() < 0.5
        assert abs(detection.score - row[14]) < 1e-3


FIRST_DETECTIONS_AT_ONCE = """
import sys, threading
import numpy as np
from pathlib import Path
from shared.face_analysis.detectors.yunet import YuNetDetector
detector = YuNetDetector(Path(sys.argv[1]), 0.6, (640, 640))
barrier = threading.Barrier(2)
def detect(seed):
    image = np.random.default_rng(seed).integers(0, 255, (480 + 32 * seed, 640, 3), dtype=np.uint8)
    barrier.wait()
    detector.detect(image)
threads = [threading.Thread(target=detect, args=(seed,)) for seed in range(2)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
"""


def test_two_first_detections_at_once_do_not_deadlock(models_dir: Path) -> None:
    """Two threads making a process's first inference at once deadlocked in OpenVINO's Python
    binding (a static's guard against the GIL): 3 of 30 fresh processes hung before a model's
    first inference ran alone (shared.face_analysis.openvino_models.infer_request). Each try is a fresh
    process, because only a process's first inference can hang; 12 tries catch that rate with
    about 70 % probability, and a hang is never a pass."""
    hung = 0
    for _ in range(12):
        try:
            subprocess.run([sys.executable, "-c", FIRST_DETECTIONS_AT_ONCE, str(models_dir / MODEL)],
                           cwd=REPO_ROOT, check=True, timeout=60, capture_output=True)
        except subprocess.TimeoutExpired:
            hung += 1
    assert hung == 0, f"{hung} of 12 processes hung on their first two detections"
