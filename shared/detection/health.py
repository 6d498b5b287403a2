"""The health report of the detection service (the shape the app's deployment guide uses)."""

from __future__ import annotations

from typing import Any

import shared
from shared.face_analysis import get_analyzer, gpu_available
from shared.settings import Settings


def health_report(settings: Settings) -> dict[str, Any]:
    """``{"status", "version", "model_loaded", "gpu_available"}``; never loads the model itself.

    ``model_loaded`` turns true once the first image has been analysed (models load lazily).
    """
    return {
        "status": "healthy",
        "version": shared.__version__,
        "model_loaded": bool(get_analyzer(settings).model_loaded),
        "gpu_available": bool(gpu_available()),
    }
