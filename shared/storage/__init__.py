"""Where images are and how to get their bytes: Supabase Storage, Cloud Storage, HTTPS, local files.

Public API: :func:`media_image_location` (the rules a media row's ``storage_path`` must pass),
:func:`fetch_image`, :func:`image_location_for_media` (the message's informational form) and
the error types.
"""

from shared.storage.errors import ImageFetchError, ImageNotFoundError, StorageUnavailableError
from shared.storage.fetch import fetch_image
from shared.storage.locations import image_location_for_media
from shared.storage.policy import ImageLocation, LocationRefused, media_image_location

__all__ = [
    "ImageFetchError",
    "ImageLocation",
    "ImageNotFoundError",
    "LocationRefused",
    "StorageUnavailableError",
    "fetch_image",
    "image_location_for_media",
    "media_image_location",
]
