"""Fetching images from every store, and telling permanent from transient failures apart.

Locations come from media rows through the rules of :mod:`shared.storage.policy` (attacked in
``tests/security``); ``fetch_url`` is the HTTP transport under the Supabase and https stores.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from google.cloud import storage

from shared.localstack.processes import free_port
from shared.settings import get_settings
from shared.storage import (
    ImageFetchError,
    ImageLocation,
    ImageNotFoundError,
    LocationRefused,
    StorageUnavailableError,
    fetch_image,
    image_location_for_media,
    media_image_location,
)
from shared.storage.http import fetch_url, session
from tests.support.supabase_storage import SupabaseStorageStandIn


def location(storage_path: str) -> ImageLocation:
    return media_image_location(storage_path, get_settings())


def fetch_signed(url: str) -> bytes:
    """A signed URL fetched the way the Supabase store fetches the one it just signed."""
    return fetch_url(url, get_settings(), session())


@pytest.fixture(scope="module")
def photo(faces_data_dir: Path) -> bytes:
    return next(iter(sorted((faces_data_dir / "dev").glob("deepface_*/*.jpg")))).read_bytes()


def test_location_for_media_keeps_schemes_and_prefixes_bare_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORAGE_BUCKET", "media-bucket")
    settings = get_settings()
    assert image_location_for_media("events/e1/a.jpg", settings) == "storage://media-bucket/events/e1/a.jpg"
    assert image_location_for_media("/events/e1/a.jpg", settings) == "storage://media-bucket/events/e1/a.jpg"
    for location in ("gs://b/o.jpg", "file:///tmp/a.jpg", "https://cdn.example/a.jpg?token=x"):
        assert image_location_for_media(location, settings) == location


# Supabase Storage (signed on the fly) and signed URLs ---------------------------------------

def test_supabase_object_is_signed_then_fetched(supabase_storage: SupabaseStorageStandIn, photo: bytes) -> None:
    supabase_storage.put("event-media", "events/e1/a photo.jpg", photo)
    assert fetch_image(location("events/e1/a photo.jpg"), get_settings()) == photo


def test_supabase_missing_object_is_not_found(supabase_storage: SupabaseStorageStandIn) -> None:
    with pytest.raises(ImageNotFoundError, match="no such object") as caught:
        fetch_image(location("events/e1/gone.jpg"), get_settings())
    assert "Object not found" not in str(caught.value)   # what the body said stays out of job errors


def test_refused_service_key_is_transient(supabase_storage: SupabaseStorageStandIn, photo: bytes,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    supabase_storage.put("event-media", "a.jpg", photo)
    monkeypatch.setenv("SUPABASE_SERVICE_ROLE_KEY", "not-the-key")
    with pytest.raises(StorageUnavailableError, match="SUPABASE_SERVICE_ROLE_KEY"):
        fetch_image(location("a.jpg"), get_settings())


def test_expired_signed_url_is_a_permanent_refusal(supabase_storage: SupabaseStorageStandIn, photo: bytes) -> None:
    supabase_storage.put("event-media", "a.jpg", photo)
    url = supabase_storage.signed_url("event-media", "a.jpg", expires_in=-10)
    with pytest.raises(ImageFetchError, match="HTTP 400") as caught:
        fetch_signed(url)
    assert caught.value.code == "refused"
    assert "token=" not in str(caught.value)  # the signature never reaches logs or job errors
    assert "claim" not in str(caught.value)   # nor does the body


@pytest.mark.parametrize(("status", "content_type", "body"), [
    (200, "text/html; charset=utf-8", b"<!DOCTYPE html><html><body>Sign in to continue</body></html>"),
    (200, "image/jpeg", b'<?xml version="1.0"?><Error><Code>ExpiredToken</Code></Error>'),
    (200, "application/octet-stream", b"<html><body>502 Bad Gateway</body></html>"),
])
def test_error_document_instead_of_image_is_permanent(supabase_storage: SupabaseStorageStandIn, photo: bytes,
                                                      status: int, content_type: str, body: bytes) -> None:
    supabase_storage.put("event-media", "a.jpg", photo)
    supabase_storage.answer_next_download(status, body, content_type)
    with pytest.raises(ImageFetchError) as caught:
        fetch_signed(supabase_storage.signed_url("event-media", "a.jpg"))
    assert caught.value.code == "error_body"
    assert "<" not in str(caught.value)


def test_xml_error_with_error_status_is_a_refusal(supabase_storage: SupabaseStorageStandIn, photo: bytes) -> None:
    supabase_storage.put("event-media", "a.jpg", photo)
    supabase_storage.answer_next_download(
        403, b"<?xml version='1.0'?><Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>",
        "application/xml")
    with pytest.raises(ImageFetchError, match="HTTP 403") as caught:
        fetch_signed(supabase_storage.signed_url("event-media", "a.jpg"))
    assert caught.value.code == "refused" and "Request has expired" not in str(caught.value)


@pytest.mark.parametrize("status", [500, 503, 429])
def test_server_errors_are_transient(supabase_storage: SupabaseStorageStandIn, photo: bytes, status: int) -> None:
    supabase_storage.put("event-media", "a.jpg", photo)
    supabase_storage.answer_next_download(status, b'{"error": "overloaded"}', "application/json")
    with pytest.raises(StorageUnavailableError):
        fetch_image(location("a.jpg"), get_settings())


def test_slow_storage_times_out_as_transient(supabase_storage: SupabaseStorageStandIn, photo: bytes,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    supabase_storage.put("event-media", "a.jpg", photo)
    supabase_storage.download_delay = 2.0
    monkeypatch.setenv("FETCH_TIMEOUT_SECONDS", "0.3")
    with pytest.raises(StorageUnavailableError, match="Timeout"):
        fetch_signed(supabase_storage.signed_url("event-media", "a.jpg"))


def test_unreachable_storage_is_transient() -> None:
    with pytest.raises(StorageUnavailableError):
        fetch_signed(f"http://127.0.0.1:{free_port()}/a.jpg")


def test_image_over_the_byte_limit_is_refused(supabase_storage: SupabaseStorageStandIn, photo: bytes,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    supabase_storage.put("event-media", "a.jpg", photo)
    monkeypatch.setenv("MAX_IMAGE_BYTES", str(len(photo) - 1))
    with pytest.raises(ImageFetchError) as caught:
        fetch_image(location("a.jpg"), get_settings())
    assert caught.value.code == "too_large"


# Cloud Storage (emulator) ------------------------------------------------------------------

def test_gcs_object_is_fetched(gcs_bucket: storage.Bucket, photo: bytes) -> None:
    gcs_bucket.blob("events/e1/a.jpg").upload_from_string(photo, content_type="image/jpeg")
    assert fetch_image(location(f"gs://{gcs_bucket.name}/events/e1/a.jpg"), get_settings()) == photo


def test_gcs_missing_object_is_not_found_and_another_bucket_is_refused(gcs_bucket: storage.Bucket) -> None:
    with pytest.raises(ImageNotFoundError):
        fetch_image(location(f"gs://{gcs_bucket.name}/events/e1/gone.jpg"), get_settings())
    with pytest.raises(LocationRefused) as caught:
        location(f"gs://{gcs_bucket.name}-other/a.jpg")
    assert caught.value.rule == "gcs_bucket"


def test_gcs_object_over_the_byte_limit_is_refused(gcs_bucket: storage.Bucket, photo: bytes,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    gcs_bucket.blob("a.jpg").upload_from_string(photo, content_type="image/jpeg")
    monkeypatch.setenv("MAX_IMAGE_BYTES", "1000")
    with pytest.raises(ImageFetchError) as caught:
        fetch_image(location(f"gs://{gcs_bucket.name}/a.jpg"), get_settings())
    assert caught.value.code == "too_large"


# Local files ---------------------------------------------------------------------------------

def test_local_file_is_read_and_missing_one_is_not_found(tmp_path: Path, photo: bytes,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCAL_STORAGE_DIR", str(tmp_path))
    (tmp_path / "a.jpg").write_bytes(photo)
    assert fetch_image(location((tmp_path / "a.jpg").as_uri()), get_settings()) == photo
    with pytest.raises(ImageNotFoundError):
        fetch_image(location((tmp_path / "gone.jpg").as_uri()), get_settings())
    with pytest.raises(LocationRefused) as caught:
        location("file://somehost/a.jpg")
    assert caught.value.rule == "file_root"
