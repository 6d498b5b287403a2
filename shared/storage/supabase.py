"""Supabase Storage: sign a short-lived URL with the service role key, then fetch it.

Signing happens right before the download (never at publish time), so a message that waited
in the queue for an hour still gets a fresh URL; the URL lives ``SIGNED_URL_SECONDS``.
"""

from __future__ import annotations

from urllib.parse import quote

import requests

from shared.settings import Settings
from shared.storage.errors import ImageFetchError, StorageUnavailableError
from shared.storage.http import body_head, fetch_url, raise_for_storage_status, reported_status, session
from shared.storage.policy import ImageLocation, LocationRefused

SIGNED_URL_SECONDS = 60


def fetch_supabase_object(location: ImageLocation, settings: Settings) -> bytes:
    """Bytes of an object of the app's bucket (``location.scheme == "storage"``)."""
    return fetch_url(sign_object_url(location, settings), settings, session())


def sign_object_url(location: ImageLocation, settings: Settings) -> str:
    """A signed download URL for the object (Storage API ``object/sign``), on ``SUPABASE_URL`` itself.

    ``SUPABASE_URL`` is configuration, trusted like ``CALLBACK_URL`` (it is a loopback stand-in
    in tests); the signed URL it answers must stay on it (rule ``signed_url``).
    """
    settings.require("SUPABASE_URL", "SUPABASE_SERVICE_ROLE_KEY")
    base = f"{settings.supabase_url.rstrip('/')}/storage/v1"
    sign_url = f"{base}/object/sign/{quote(location.bucket)}/{quote(location.key)}"
    key = settings.supabase_service_role_key
    try:
        response = session().post(sign_url, json={"expiresIn": SIGNED_URL_SECONDS},
                                  headers={"Authorization": f"Bearer {key}", "apikey": key},
                                  timeout=settings.fetch_timeout_seconds)
    except requests.RequestException as exc:
        raise StorageUnavailableError(f"cannot reach Supabase Storage to sign {location}: "
                                      f"{type(exc).__name__}") from exc
    with response:
        if reported_status(body_head(response), response.status_code) in (401, 403):
            # Our own key was refused: a deployment problem that retries can outlast once fixed,
            # not a property of this image.
            raise StorageUnavailableError(
                f"Supabase Storage refused SUPABASE_SERVICE_ROLE_KEY while signing {location} "
                f"(HTTP {response.status_code})")
        raise_for_storage_status(response, str(location))
        try:
            signed = response.json()["signedURL"]
        except (ValueError, KeyError, TypeError, RecursionError):
            raise ImageFetchError("refused", f"Supabase Storage answered no signedURL for {location}") from None
    if not isinstance(signed, str):
        raise ImageFetchError("refused", f"Supabase Storage answered no signedURL for {location}")
    url = signed if "://" in signed else f"{base}{signed}"
    if not url.startswith(f"{base}/"):
        raise LocationRefused("signed_url", f"the signed URL for {location} is not on SUPABASE_URL")
    return url
