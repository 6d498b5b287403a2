"""Which face of a selfie is the member, or precisely why the selfie cannot be used.

A selfie may show friends in the background: the largest face is the member when it is
clearly the largest (its short side at least ``DOMINANT_RATIO`` times the next one's);
otherwise the member is told which faces compete, so they can crop. The face must pass the
clustering's quality bar, because a face that could not join a person cannot find one; the
reason given is the factor that fails (size, border, turned away), blur being what is left
when the measurable factors are fine.

Blur also gets its own bar: the quality score is a geometric mean, so a sharp-edged face
blurred beyond recognition still scores about 0.45 on size and pose. Sharpness is measured on
the face's 112 px thumbnail (the chip is not kept): on 120 random faces of dev and dev2 it is
at least 111 (1st percentile 135); a Gaussian blur of 8 px on a 1480 px photo brings it to ~35.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from shared.face_analysis import Face, ImageAnalysis
from shared.face_analysis.quality import LEGIBLE_FACE_PX, frontalness, sharpness, wholeness

# A face this much larger (short side) than every other one is the member's own.
DOMINANT_RATIO = 1.5
# Frontalness (0..1) under which the face is called turned away rather than blurred.
TURNED_AWAY = 0.5
# Laplacian variance of the face thumbnail under which the selfie is too blurred.
MIN_THUMBNAIL_SHARPNESS = 60.0


@dataclass
class SelfieProblem(Exception):
    """A selfie that cannot be searched with: ``code`` for programs, ``message`` for people."""

    code: str
    message: str
    faces: list[list[float]] = field(default_factory=list)  # boxes [x1, y1, x2, y2] to choose from

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def _short_side(face: Face) -> float:
    return min(face.bbox[2] - face.bbox[0], face.bbox[3] - face.bbox[1])


def _box(face: Face) -> list[float]:
    return [round(v, 1) for v in face.bbox]


def _thumbnail_sharpness(face: Face) -> float:
    with Image.open(io.BytesIO(face.thumbnail)) as thumbnail:
        return sharpness(np.asarray(thumbnail.convert("RGB")))


def _too_blurred(face: Face) -> SelfieProblem:
    return SelfieProblem("face_too_blurred", "your face is too blurred to recognise; hold still, in good light",
                         [_box(face)])


def selfie_face(analysis: ImageAnalysis, min_quality: float) -> Face:
    """The member's face in the selfie; raises :class:`SelfieProblem` with the reason otherwise."""
    if not analysis.faces:
        raise SelfieProblem("no_face", "no face was found in the photo; take it facing the camera, in good light")
    ranked = sorted(analysis.faces, key=_short_side, reverse=True)
    face = ranked[0]
    if len(ranked) > 1 and _short_side(face) < DOMINANT_RATIO * _short_side(ranked[1]):
        rivals = [f for f in ranked if _short_side(f) * DOMINANT_RATIO > _short_side(face)]
        raise SelfieProblem("several_faces", f"{len(rivals)} faces of similar size; crop the photo to yours "
                            "(boxes in pixels: x1, y1, x2, y2)", [_box(f) for f in rivals])
    if _short_side(face) < LEGIBLE_FACE_PX:
        raise SelfieProblem("face_too_small", f"your face is {_short_side(face):.0f} px; it must be at least "
                            f"{LEGIBLE_FACE_PX:.0f} px (come closer or send the original photo)", [_box(face)])
    if _thumbnail_sharpness(face) < MIN_THUMBNAIL_SHARPNESS:
        raise _too_blurred(face)
    if face.quality >= min_quality:
        return face
    landmarks = np.asarray(face.landmarks)
    if wholeness(landmarks, analysis.width, analysis.height) < 1.0:
        raise SelfieProblem("face_cut_off", "your face touches the edge of the photo; keep all of it in the frame",
                            [_box(face)])
    if frontalness(landmarks) < TURNED_AWAY:
        raise SelfieProblem("face_turned_away", "your face is turned away; look at the camera", [_box(face)])
    raise _too_blurred(face)
