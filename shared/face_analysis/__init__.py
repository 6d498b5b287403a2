"""Per-image face analysis: image bytes in, faces (box, landmarks, quality, embedding) out.

Pure logic over local files: no HTTP, Pub/Sub or database here. The detection service calls
:func:`get_analyzer` (one analyser per process) and :meth:`FaceAnalyzer.analyze`; the one-shot
commands (``analyze``, ``cluster-photos``) make their own :class:`FaceAnalyzer` and close it.

Names are imported on first use: recogniser worker processes import a submodule of this
package and should not pay for onnxruntime, OpenCV and Pillow they never use (~130 MB each).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_EXPORTS = {
    "FaceAnalyzer": "analyzer", "get_analyzer": "analyzer",
    "ImageError": "errors", "ImageTooLargeError": "errors", "ModelFilesError": "errors",
    "NotAnImageError": "errors", "TruncatedImageError": "errors", "UnsupportedFormatError": "errors",
    "DEFAULT_PACK": "packs", "PACKS": "packs", "ModelPack": "packs", "get_pack": "packs",
    "Face": "results", "ImageAnalysis": "results",
    "gpu_available": "sessions",
}
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


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
