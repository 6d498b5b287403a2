"""The image location a detection message carries, for information (see :mod:`shared.pipeline.messages`).

``storage://<bucket>/<path>`` for a bare path in the app's Supabase Storage bucket, the
``storage_path`` as it stands when it names a scheme. The worker never fetches it: it reads the
media row through :func:`shared.storage.policy.media_image_location`.
"""

from __future__ import annotations

from shared.settings import Settings

SCHEMES = ("storage://", "gs://", "https://", "http://", "file://")


def image_location_for_media(storage_path: str, settings: Settings) -> str:
    """The informational location of a media row's image, as workers of the previous release read it."""
    if storage_path.startswith(SCHEMES):
        return storage_path
    return f"storage://{settings.storage_bucket}/{storage_path.lstrip('/')}"
