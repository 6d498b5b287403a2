"""Google Cloud Storage objects (``gs://bucket/object``) through ``google-cloud-storage``.

With ``STORAGE_EMULATOR_HOST`` set, the client talks to that emulator without credentials
(development and tests); otherwise it uses the service's own credentials (Cloud Run's
service account).
"""

from __future__ import annotations

import functools

import requests
from google.api_core import exceptions as api_exceptions
from google.auth import exceptions as auth_exceptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage

from shared.settings import Settings
from shared.storage.errors import ImageNotFoundError, StorageUnavailableError, too_large
from shared.storage.policy import ImageLocation

_TRANSIENT = (
    api_exceptions.ServerError,
    api_exceptions.TooManyRequests,
    requests.RequestException,
    auth_exceptions.TransportError,
    ConnectionError,
    TimeoutError,
)


@functools.cache
def storage_client(project: str, emulator_host: str | None) -> storage.Client:
    """One client per process (it is thread-safe and keeps a connection pool)."""
    if emulator_host:
        endpoint = emulator_host if "://" in emulator_host else f"http://{emulator_host}"
        return storage.Client(project=project, credentials=AnonymousCredentials(),
                              client_options={"api_endpoint": endpoint})
    return storage.Client(project=project)


def fetch_gcs_object(location: ImageLocation, settings: Settings) -> bytes:
    """Bytes of ``gs://<bucket>/<object>``, at most ``MAX_IMAGE_BYTES``.

    Error texts carry the exception's type and status, not Cloud Storage's message text.
    """
    bucket_name, name = location.bucket, location.key
    try:
        client = storage_client(settings.google_cloud_project, settings.storage_emulator_host)
        # One ranged request of at most one byte over the limit: the size check needs no metadata
        # call, and a huge object is never downloaded whole.
        data = client.bucket(bucket_name).blob(name).download_as_bytes(
            end=settings.max_image_bytes, timeout=settings.fetch_timeout_seconds, checksum=None)
    except api_exceptions.RequestRangeNotSatisfiable:  # an empty object has no byte 0 to start from
        data = b""
    except api_exceptions.NotFound as exc:  # no such object, or no such bucket
        raise ImageNotFoundError(f"{location}: no such object (HTTP {exc.code})") from exc
    except (api_exceptions.Forbidden, api_exceptions.Unauthorized, auth_exceptions.DefaultCredentialsError) as exc:
        # Our own credentials were refused or are missing: a deployment problem, retried once fixed.
        raise StorageUnavailableError(f"{location}: Cloud Storage refused this service's credentials "
                                      f"({type(exc).__name__})") from exc
    except _TRANSIENT as exc:
        raise StorageUnavailableError(f"{location}: Cloud Storage unavailable ({type(exc).__name__})") from exc
    if len(data) > settings.max_image_bytes:
        raise too_large(str(location), len(data), settings.max_image_bytes)
    return data
