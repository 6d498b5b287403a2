"""Per-image face analysis: image bytes in, faces (box, landmarks, quality, embedding) out.

Pure logic over local files: no HTTP, Pub/Sub or database here. The detection service and the
``facecluster analyze`` command both call :func:`get_analyzer` and :meth:`FaceAnalyzer.analyze`.
"""

from shared.face_analysis.analyzer import FaceAnalyzer, get_analyzer
from shared.face_analysis.errors import (
    ImageError,
    ImageTooLargeError,
    ModelFilesError,
    NotAnImageError,
    TruncatedImageError,
    UnsupportedFormatError,
)
from shared.face_analysis.packs import DEFAULT_PACK, PACKS, ModelPack, get_pack
from shared.face_analysis.results import Face, ImageAnalysis
from shared.face_analysis.sessions import gpu_available

__all__ = [
    "DEFAULT_PACK",
    "PACKS",
    "Face",
    "FaceAnalyzer",
    "ImageAnalysis",
    "ImageError",
    "ImageTooLargeError",
    "ModelFilesError",
    "ModelPack",
    "NotAnImageError",
    "TruncatedImageError",
    "UnsupportedFormatError",
    "get_analyzer",
    "get_pack",
    "gpu_available",
]
