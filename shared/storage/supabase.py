"""Supabase Storage: sign a short-lived URL with the service role key, then fetch it.

Signing happens right before the download (never at publish time), so a message that waited
in the queue for an hour still gets a fresh URL; the URL lives ``SIGNED_URL_SECONDS``.
"""

from __future__ import annotations

from urllib.parse import quote

import requests

from shared.settings import Settings
from shared.storage.errors import ImageFetchError, StorageUnavailableError
from shared.storage.http import (
    body_head,
    excerpt,
    fetch_url,
    raise_for_storage_status,
    reported_status,
    session,
)
from shared.storage.locations import split_bucket_location

SIGNED_URL_SECONDS = 60


def fetch_supabase_object(location: str, settings: Settings) -> bytes:
    """Bytes of ``storage://<bucket>/<path>``."""
    return fetch_url(sign_object_url(location, settings), settings)


def sign_object_url(location: str, settings: Settings) -> str:
    """A signed download URL for ``storage://<bucket>/<path>`` (Storage API ``object/sign``)."""
    settings.require("SUPABASE_URL", "SUPABASE_SERVICE_ROLE_KEY")
    bucket, path = split_bucket_location(location, "storage://")
    base = f"{settings.supabase_url.rstrip('/')}/storage/v1"
    sign_url = f"{base}/object/sign/{quote(bucket)}/{quote(path)}"
    key = settings.supabase_service_role_key
    try:
        response = session().post(sign_url, json={"expiresIn": SIGNED_URL_SECONDS},
                                  headers={"Authorization": f"Bearer {key}", "apikey": key},
                                  timeout=settings.fetch_timeout_seconds)
    except requests.RequestException as exc:
        raise StorageUnavailableError(f"cannot reach Supabase Storage to sign {location}: {exc}") from exc
    with response:
        head = body_head(response)
        if reported_status(head, response.status_code) in (401, 403):
            # Our own key was refused: a deployment problem that retries can outlast once fixed,
            # not a property of this image.
            raise StorageUnavailableError(
                f"Supabase Storage refused SUPABASE_SERVICE_ROLE_KEY while signing {location} "
                f"(HTTP {response.status_code}: {excerpt(head)})")
        raise_for_storage_status(response, location)
        try:
            signed = response.json()["signedURL"]
        except (ValueError, KeyError, TypeError):
            raise ImageFetchError("refused", f"Supabase Storage answered no signedURL for {location}: "
                                             f"{excerpt(response.content)}") from None
    return signed if signed.startswith(("https://", "http://")) else f"{base}{signed}"
