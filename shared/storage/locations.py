"""Image locations: the one string form that says where an image's bytes are.

``storage://<bucket>/<path>`` (Supabase Storage, signed right before fetching),
``gs://<bucket>/<object>``, ``https://``/``http://`` (an already signed URL) and ``file://``
(local development). The publisher turns a ``media.storage_path`` into a location with
:func:`image_location_for_media`, so the worker never has to guess what a bare path means.
"""

from __future__ import annotations

from shared.messages import IMAGE_SCHEMES
from shared.settings import Settings
from shared.storage.errors import ImageFetchError


def image_location_for_media(storage_path: str, settings: Settings) -> str:
    """The location of a media row's image.

    A ``storage_path`` that already names a scheme (``gs://…``, ``file://…``, ``https://…``) is a
    location as it stands; anything else is a path inside the app's Supabase Storage bucket.
    """
    if storage_path.startswith(IMAGE_SCHEMES):
        return storage_path
    return f"storage://{settings.storage_bucket}/{storage_path.lstrip('/')}"


def split_bucket_location(location: str, scheme: str) -> tuple[str, str]:
    """``<scheme>://<bucket>/<path>`` → ``(bucket, path)``; a missing part is a permanent error."""
    bucket, _, path = location.removeprefix(scheme).partition("/")
    if not bucket or not path:
        raise ImageFetchError("bad_location", f"{location!r}: expected {scheme}<bucket>/<path>")
    return bucket, path
