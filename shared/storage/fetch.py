"""Fetch an image by location, whichever store holds it."""

from __future__ import annotations

from shared.settings import Settings
from shared.storage.errors import ImageFetchError
from shared.storage.gcs import fetch_gcs_object
from shared.storage.http import fetch_url
from shared.storage.local import fetch_local_file
from shared.storage.supabase import fetch_supabase_object


def fetch_image(location: str, settings: Settings) -> bytes:
    """The image bytes at ``location`` (see :mod:`shared.storage.locations` for the forms).

    Raises :class:`ImageNotFoundError` / :class:`ImageFetchError` when the image cannot be had
    (permanent) and :class:`StorageUnavailableError` when the store cannot answer now (retry).
    """
    if location.startswith("storage://"):
        return fetch_supabase_object(location, settings)
    if location.startswith("gs://"):
        return fetch_gcs_object(location, settings)
    if location.startswith(("https://", "http://")):
        return fetch_url(location, settings)
    if location.startswith("file://"):
        return fetch_local_file(location, settings)
    raise ImageFetchError("bad_location", f"{location[:80]!r}: unsupported image location")
