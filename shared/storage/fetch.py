"""Fetch an image by its (allowed) location, whichever store holds it."""

from __future__ import annotations

from shared.settings import Settings
from shared.storage.gcs import fetch_gcs_object
from shared.storage.guarded_http import guarded_session
from shared.storage.http import fetch_url
from shared.storage.local import fetch_local_file
from shared.storage.policy import ImageLocation
from shared.storage.supabase import fetch_supabase_object


def fetch_image(location: ImageLocation, settings: Settings) -> bytes:
    """The image bytes at ``location`` (made by :func:`shared.storage.policy.media_image_location`).

    Raises :class:`ImageNotFoundError` / :class:`ImageFetchError` (``LocationRefused`` among
    them) when the image cannot be had (permanent) and :class:`StorageUnavailableError` when the
    store cannot answer now (retry).
    """
    if location.scheme == "storage":
        return fetch_supabase_object(location, settings)
    if location.scheme == "gs":
        return fetch_gcs_object(location, settings)
    if location.scheme == "https":
        return fetch_url(location.url, settings, guarded_session(settings.image_allowed_hosts))
    return fetch_local_file(location, settings)
