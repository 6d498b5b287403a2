"""Fetching images from every store, and telling permanent from transient failures apart."""

from __future__ import annotations

from pathlib import Path

import pytest
from google.cloud import storage

from shared.localstack.processes import free_port
from shared.settings import get_settings
from shared.storage import (
    ImageFetchError,
    ImageNotFoundError,
    StorageUnavailableError,
    fetch_image,
    image_location_for_media,
)
from tests.support.supabase_storage import SupabaseStorageStandIn


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
    assert fetch_image("storage://event-media/events/e1/a photo.jpg", get_settings()) == photo


def test_supabase_missing_object_is_not_found(supabase_storage: SupabaseStorageStandIn) -> None:
    with pytest.raises(ImageNotFoundError, match="Object not found"):
        fetch_image("storage://event-media/events/e1/gone.jpg", get_settings())


def test_refused_service_key_is_transient(supabase_storage: SupabaseStorageStandIn, photo: bytes,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    supabase_storage.put("event-media", "a.jpg", photo)
    monkeypatch.setenv("SUPABASE_SERVICE_ROLE_KEY", "not-the-key")
    with pytest.raises(StorageUnavailableError, match="SUPABASE_SERVICE_ROLE_KEY"):
        fetch_image("storage://event-media/a.jpg", get_settings())


def test_expired_signed_url_is_a_permanent_refusal(supabase_storage: SupabaseStorageStandIn, photo: bytes) -> None:
    supabase_storage.put("event-media", "a.jpg", photo)
    url = supabase_storage.signed_url("event-media", "a.jpg", expires_in=-10)
    with pytest.raises(ImageFetchError, match="exp") as caught:
        fetch_image(url, get_settings())
    assert caught.value.code == "refused"
    assert "token=" not in str(caught.value)  # the signature never reaches logs or job errors


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
        fetch_image(supabase_storage.signed_url("event-media", "a.jpg"), get_settings())
    assert caught.value.code == "error_body"


def test_xml_error_with_error_status_is_a_refusal(supabase_storage: SupabaseStorageStandIn, photo: bytes) -> None:
    supabase_storage.put("event-media", "a.jpg", photo)
    supabase_storage.answer_next_download(
        403, b"<?xml version='1.0'?><Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>",
        "application/xml")
    with pytest.raises(ImageFetchError, match="Request has expired") as caught:
        fetch_image(supabase_storage.signed_url("event-media", "a.jpg"), get_settings())
    assert caught.value.code == "refused"


@pytest.mark.parametrize("status", [500, 503, 429])
def test_server_errors_are_transient(supabase_storage: SupabaseStorageStandIn, photo: bytes, status: int) -> None:
    supabase_storage.put("event-media", "a.jpg", photo)
    supabase_storage.answer_next_download(status, b'{"error": "overloaded"}', "application/json")
    with pytest.raises(StorageUnavailableError):
        fetch_image("storage://event-media/a.jpg", get_settings())


def test_slow_storage_times_out_as_transient(supabase_storage: SupabaseStorageStandIn, photo: bytes,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    supabase_storage.put("event-media", "a.jpg", photo)
    supabase_storage.download_delay = 2.0
    monkeypatch.setenv("FETCH_TIMEOUT_SECONDS", "0.3")
    with pytest.raises(StorageUnavailableError, match="Timeout"):
        fetch_image(supabase_storage.signed_url("event-media", "a.jpg"), get_settings())


def test_unreachable_storage_is_transient() -> None:
    with pytest.raises(StorageUnavailableError):
        fetch_image(f"http://127.0.0.1:{free_port()}/a.jpg", get_settings())


def test_image_over_the_byte_limit_is_refused(supabase_storage: SupabaseStorageStandIn, photo: bytes,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    supabase_storage.put("event-media", "a.jpg", photo)
    monkeypatch.setenv("MAX_IMAGE_BYTES", str(len(photo) - 1))
    with pytest.raises(ImageFetchError) as caught:
        fetch_image("storage://event-media/a.jpg", get_settings())
    assert caught.value.code == "too_large"


# Cloud Storage (emulator) ------------------------------------------------------------------

def test_gcs_object_is_fetched(gcs_bucket: storage.Bucket, photo: bytes) -> None:
    gcs_bucket.blob("events/e1/a.jpg").upload_from_string(photo, content_type="image/jpeg")
    assert fetch_image(f"gs://{gcs_bucket.name}/events/e1/a.jpg", get_settings()) == photo


def test_gcs_missing_object_or_bucket_is_not_found(gcs_bucket: storage.Bucket) -> None:
    with pytest.raises(ImageNotFoundError):
        fetch_image(f"gs://{gcs_bucket.name}/events/e1/gone.jpg", get_settings())
    with pytest.raises(ImageNotFoundError):
        fetch_image(f"gs://{gcs_bucket.name}-nonexistent/a.jpg", get_settings())


def test_gcs_object_over_the_byte_limit_is_refused(gcs_bucket: storage.Bucket, photo: bytes,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    gcs_bucket.blob("a.jpg").upload_from_string(photo, content_type="image/jpeg")
    monkeypatch.setenv("MAX_IMAGE_BYTES", "1000")
    with pytest.raises(ImageFetchError) as caught:
        fetch_image(f"gs://{gcs_bucket.name}/a.jpg", get_settings())
    assert caught.value.code == "too_large"


# Local files ---------------------------------------------------------------------------------

def test_local_file_is_read_and_missing_one_is_not_found(tmp_path: Path, photo: bytes) -> None:
    (tmp_path / "a.jpg").write_bytes(photo)
    assert fetch_image((tmp_path / "a.jpg").as_uri(), get_settings()) == photo
    with pytest.raises(ImageNotFoundError):
        fetch_image((tmp_path / "gone.jpg").as_uri(), get_settings())
    with pytest.raises(ImageFetchError) as caught:
        fetch_image("file://somehost/a.jpg", get_settings())
    assert caught.value.code == "bad_location"
