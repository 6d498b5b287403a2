"""Image bytes → faces: decode, detect, align, embed, score, thumbnail.

The one entry point the detection service and the CLI call. Models load lazily on the first
image (so a process that never analyses pays nothing) under a lock (two requests may arrive
together), after every file passed its SHA-256 check.

Resolution is chosen per step: the detector gets just enough pixels for ``DET_SIZE`` (a JPEG
is decoded at 1/2..1/8 scale), and the chips are cut from pixels where the smallest face is
at least the recogniser's full-detail width, decoded again only when that needs more.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from shared.face_analysis.alignment import AlignmentError
from shared.face_analysis.decode import open_image
from shared.face_analysis.detectors import TRAINED_SIZE, Detection, Detector, create_detector, fit_scale
from shared.face_analysis.packs import get_pack, verify_pack
from shared.face_analysis.quality import face_quality
from shared.face_analysis.recognizers import Recognizer, create_recognizer
from shared.face_analysis.results import Face, ImageAnalysis
from shared.face_analysis.thumbnails import face_thumbnail
from shared.settings import Settings

logger = logging.getLogger(__name__)

# A box drawn around a face the detector missed: the detector looks again on the box and its
# surroundings (the box grown by this share of its size on each side, so the whole head is in
# view), at full resolution and at this share of its threshold.
BOX_CONTEXT = 0.5
BOX_THRESHOLD_FACTOR = 0.5


class FaceAnalyzer:
    """Analyses images with one model pack; safe to share between threads."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._pack = get_pack(settings.model_pack)
        self.threshold = (settings.detection_threshold if settings.detection_threshold is not None
                          else self._pack.default_threshold)
        self._load_lock = threading.Lock()
        self._detector: Detector | None = None
        self._box_detector: Detector | None = None
        self._recognizer: Recognizer | None = None

    @property
    def pack_id(self) -> str:
        return self._pack.id

    @property
    def embedding_dim(self) -> int:
        return self._recognizer.dim if self._recognizer is not None else self._pack.embedding_dim

    @property
    def model_loaded(self) -> bool:
        return self._recognizer is not None

    def load(self) -> None:
        """Verify and load the pack's models (done by the first analyse; call early to fail fast)."""
        if self._recognizer is not None:  # set last, so the detector is there too
            return
        with self._load_lock:
            if self._recognizer is not None:
                return
            settings = self._settings
            paths = verify_pack(self._pack, settings.model_dir)
            detector_path = paths[self._pack.detector_file.path]
            self._detector = create_detector(self._pack.detector, detector_path,
                                             self.threshold, settings.det_size, settings.ort_intra_op_threads)
            self._box_detector = create_detector(self._pack.detector, detector_path,
                                                 self.threshold * BOX_THRESHOLD_FACTOR,
                                                 (TRAINED_SIZE, TRAINED_SIZE), settings.ort_intra_op_threads)
            self._recognizer = create_recognizer(
                self._pack.recognizer, tuple(paths[f.path] for f in self._pack.recognizer_files),
                self._pack.embedding_dim, settings.recognizer_threads, settings.ort_intra_op_threads)

    def close(self) -> None:
        """Stop recogniser worker processes (the process-wide instance lives until exit)."""
        if self._recognizer is not None:
            self._recognizer.close()

    def analyze_path(self, path: str | Path) -> ImageAnalysis:
        return self.analyze(Path(path).read_bytes())

    def analyze(self, data: bytes) -> ImageAnalysis:
        """Faces of one image; raises an ImageError subclass when the bytes cannot be used."""
        self.load()
        assert self._detector is not None and self._recognizer is not None
        image = open_image(data, self._settings.max_image_pixels)
        pixels, scale = image.pixels(min(1.0, fit_scale(image.width, image.height, self._settings.det_size)))
        detections = [d.scaled(1 / scale) for d in self._detector.detect(pixels)]
        detections = [d for d in detections if _short_side(d.box) >= self._settings.min_face_size]
        if not detections:
            return ImageAnalysis(image.width, image.height, [])

        needed = max(self._recognizer.full_detail_face_px / (d.box[2] - d.box[0]) for d in detections)
        pixels, scale = image.pixels(min(1.0, needed))
        aligned = self._align(pixels, detections, scale)
        embeddings = self._recognizer.embed([chip for _, _, chip in aligned.kept])
        faces = [self._face(d, p, chip, embedding, pixels, image.width, image.height)
                 for (d, p, chip), embedding in zip(aligned.kept, embeddings, strict=True)]
        return ImageAnalysis(image.width, image.height, faces, aligned.dropped)

    def find_face_in_box(self, data: bytes, box: tuple[float, float, float, float]) -> Face | None:
        """The face inside a box a person drew on the image (original pixels), or None when there is none.

        The detector missed it on the whole image (too small at ``DET_SIZE``, or scored under the
        threshold); on the box's surroundings alone, enlarged to the detector's trained size and
        at a lower threshold, it finds the face with its landmarks, which the recogniser needs.
        A detection counts when its centre lies in the box; the most confident one is the face.
        """
        self.load()
        assert self._box_detector is not None and self._recognizer is not None
        image = open_image(data, self._settings.max_image_pixels)
        pixels, _ = image.pixels(1.0)
        x1, y1, x2, y2 = box
        grow_x, grow_y = (x2 - x1) * BOX_CONTEXT, (y2 - y1) * BOX_CONTEXT
        left, top = max(0, int(x1 - grow_x)), max(0, int(y1 - grow_y))
        right, bottom = min(image.width, int(x2 + grow_x) + 1), min(image.height, int(y2 + grow_y) + 1)
        if right - left < 2 or bottom - top < 2:
            return None
        offset = np.array([left, top], dtype=np.float32)
        found = [Detection(d.box + np.tile(offset, 2), d.landmarks + offset, d.score)
                 for d in self._box_detector.detect(np.ascontiguousarray(pixels[top:bottom, left:right]))]
        inside = [d for d in found if x1 <= (d.box[0] + d.box[2]) / 2 <= x2 and y1 <= (d.box[1] + d.box[3]) / 2 <= y2]
        if not inside:
            return None
        best = max(inside, key=lambda d: d.score)
        try:
            chip = self._recognizer.align(pixels, best)
        except AlignmentError as error:
            logger.info("The face in the box cannot be aligned: %s", error, extra={"reason": error.reason})
            return None
        embedding = self._recognizer.embed([chip])[0]
        return self._face(best, best, chip, embedding, pixels, image.width, image.height)

    def _align(self, pixels: np.ndarray, detections: list[Detection], scale: float) -> _Aligned:
        """Chips of the faces that can be aligned; the others are dropped, logged and counted by reason."""
        assert self._recognizer is not None
        aligned = _Aligned([], {})
        for detection in detections:
            in_pixels = detection.scaled(scale)
            try:
                aligned.kept.append((detection, in_pixels, self._recognizer.align(pixels, in_pixels)))
            except AlignmentError as error:
                logger.info("Dropped a face: %s", error, extra={"reason": error.reason,
                                                                 "box": [round(float(v)) for v in detection.box]})
                aligned.dropped[error.reason] = aligned.dropped.get(error.reason, 0) + 1
        return aligned

    def _face(self, detection: Detection, in_pixels: Detection, chip: np.ndarray, embedding: np.ndarray,
              pixels: np.ndarray, width: int, height: int) -> Face:
        x1, y1, x2, y2 = (float(v) for v in detection.box)
        bbox = (max(0.0, x1), max(0.0, y1), min(float(width), x2), min(float(height), y2))
        return Face(
            bbox=bbox,
            landmarks=tuple((float(x), float(y)) for x, y in detection.landmarks),
            det_score=detection.score,
            quality=face_quality(detection.score, detection.box, detection.landmarks, chip, (width, height)),
            embedding=embedding,
            model=self._pack.id,
            thumbnail=face_thumbnail(pixels, in_pixels.box),
        )


@dataclass
class _Aligned:
    kept: list[tuple[Detection, Detection, np.ndarray]]  # (in the original image, in pixels, chip)
    dropped: dict[str, int]                               # faces left out, by reason


def _short_side(box: np.ndarray) -> float:
    return float(min(box[2] - box[0], box[3] - box[1]))


_shared: dict[tuple, FaceAnalyzer] = {}
_shared_lock = threading.Lock()


def _analysis_key(settings: Settings) -> tuple:
    """The settings the analyser depends on: an unrelated change (a database URL) must not load
    a second copy of the models (~50 MB each)."""
    return (settings.model_pack, settings.model_dir, settings.detection_threshold, settings.det_size,
            settings.min_face_size, settings.max_image_pixels, settings.ort_intra_op_threads,
            settings.recognizer_threads)


def get_analyzer(settings: Settings) -> FaceAnalyzer:
    """The process-wide analyser for these settings, models loaded once."""
    key = _analysis_key(settings)
    with _shared_lock:
        if key not in _shared:
            _shared[key] = FaceAnalyzer(settings)
        return _shared[key]
