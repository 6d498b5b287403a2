"""Where images are and how to get their bytes: Supabase Storage, Cloud Storage, HTTP, local files.

Public API: :func:`fetch_image`, :func:`image_location_for_media` and the three error types.
"""

from shared.storage.errors import ImageFetchError, ImageNotFoundError, StorageUnavailableError
from shared.storage.fetch import fetch_image
from shared.storage.locations import image_location_for_media

__all__ = [
    "ImageFetchError",
    "ImageNotFoundError",
    "StorageUnavailableError",
    "fetch_image",
    "image_location_for_media",
]
