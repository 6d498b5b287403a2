"""Fetching images from every store, and telling permanent from transient failures apart.

Locations come from media rows through the rules of :mod:`shared.storage.policy` (attacked in
``tests/security``); ``fetch_url`` is the HTTP transport of https locations, tested here with
signed URLs of the Supabase Storage stand-in; Supabase objects go through storage3's ``download``.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from google.cloud import storage

from localdev.stack.processes import free_port
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
from shared.storage.http import fetch_url
from tests.support.supabase_storage import SupabaseStorageStandIn


def location(storage_path: str) -> ImageLocation:
    return media_image_location(storage_path, get_settings())


def fetch_signed(url: str) -> bytes:
    """A signed URL fetched as an https location is (the stand-in is plain http on loopback, which
    the guarded session of real https locations refuses)."""
    with requests.Session() as session:
        return fetch_url(url, get_settings(), session)


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


# Supabase Storage (storage3's download) and signed URLs (fetch_url) ------------------------

@pytest.fixture(params=["object", "signed_url"])
def fetch_a_jpg(request: pytest.FixtureRequest, supabase_storage: SupabaseStorageStandIn,
                photo: bytes) -> Callable[[], bytes]:
    """Fetch ``a.jpg`` of the bucket both ways the stand-in serves it: the answer rules are the same."""
    supabase_storage.put("event-media", "a.jpg", photo)
    if request.param == "object":
        return lambda: fetch_image(location("a.jpg"), get_settings())
    return lambda: fetch_signed(supabase_storage.signed_url("event-media", "a.jpg"))


@pytest.mark.parametrize("key", ["events/e1/a photo.jpg", "events/e1/a%41.jpg", "events/%2e%2e/e2/a.jpg",
                                 "events/e1/a?b=1#c.jpg", "events/e1/ü+;.jpg"])
def test_supabase_object_is_fetched_by_its_literal_key(supabase_storage: SupabaseStorageStandIn, photo: bytes,
                                                       key: str) -> None:
    # storage3 reads keys percent-encoded: unquoted, "a%41.jpg" would be "aA.jpg" and "%2e%2e" a "..".
    supabase_storage.put("event-media", key, photo)
    assert fetch_image(location(key), get_settings()) == photo


def test_one_storage_client_serves_concurrent_fetches(supabase_storage: SupabaseStorageStandIn,
                                                      photo: bytes) -> None:
    supabase_storage.put("event-media", "a.jpg", photo)
    with ThreadPoolExecutor(max_workers=4) as pool:
        fetched = list(pool.map(lambda _: fetch_image(location("a.jpg"), get_settings()), range(8)))
    assert fetched == [photo] * 8 and supabase_storage.downloads == 8


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
def test_error_document_instead_of_image_is_permanent(supabase_storage: SupabaseStorageStandIn,
                                                      fetch_a_jpg: Callable[[], bytes],
                                                      status: int, content_type: str, body: bytes) -> None:
    supabase_storage.answer_next_download(status, body, content_type)
    with pytest.raises(ImageFetchError) as caught:
        fetch_a_jpg()
    assert caught.value.code == "error_body"
    assert "<" not in str(caught.value)


def test_xml_error_with_error_status_is_a_refusal(supabase_storage: SupabaseStorageStandIn,
                                                  fetch_a_jpg: Callable[[], bytes]) -> None:
    supabase_storage.answer_next_download(
        403, b"<?xml version='1.0'?><Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>",
        "application/xml")
    with pytest.raises(ImageFetchError, match="HTTP 403") as caught:
        fetch_a_jpg()
    assert caught.value.code == "refused" and "Request has expired" not in str(caught.value)


def test_a_redirect_is_refused(supabase_storage: SupabaseStorageStandIn, fetch_a_jpg: Callable[[], bytes]) -> None:
    supabase_storage.answer_next_download(302, b"", "text/plain", {"Location": "http://127.0.0.1:1/elsewhere"})
    with pytest.raises(LocationRefused) as caught:
        fetch_a_jpg()
    assert caught.value.rule == "redirect" and supabase_storage.downloads == 1


def test_a_compressed_object_is_refused(supabase_storage: SupabaseStorageStandIn, photo: bytes) -> None:
    # The size limit counts the bytes that arrive; decoded, a small gzip body could be any size.
    supabase_storage.put("event-media", "a.jpg", photo)
    supabase_storage.answer_next_download(200, gzip.compress(photo), "image/jpeg", {"Content-Encoding": "gzip"})
    with pytest.raises(ImageFetchError, match="Content-Encoding") as caught:
        fetch_image(location("a.jpg"), get_settings())
    assert caught.value.code == "refused"


@pytest.mark.parametrize("status", [500, 503, 429])
def test_server_errors_are_transient(supabase_storage: SupabaseStorageStandIn, fetch_a_jpg: Callable[[], bytes],
                                     status: int) -> None:
    supabase_storage.answer_next_download(status, b'{"error": "overloaded"}', "application/json")
    with pytest.raises(StorageUnavailableError):
        fetch_a_jpg()


def test_slow_storage_times_out_as_transient(supabase_storage: SupabaseStorageStandIn,
                                             fetch_a_jpg: Callable[[], bytes],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    supabase_storage.download_delay = 2.0
    monkeypatch.setenv("FETCH_TIMEOUT_SECONDS", "0.3")
    with pytest.raises(StorageUnavailableError, match="Timeout"):
        fetch_a_jpg()


def test_unreachable_storage_is_transient(monkeypatch: pytest.MonkeyPatch) -> None:
    unreachable = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("SUPABASE_URL", unreachable)
    monkeypatch.setenv("SUPABASE_SERVICE_ROLE_KEY", "any-key")
    with pytest.raises(StorageUnavailableError):
        fetch_signed(f"{unreachable}/a.jpg")
    with pytest.raises(StorageUnavailableError, match="ConnectError"):
        fetch_image(location("a.jpg"), get_settings())


@pytest.mark.parametrize("chunked", [False, True], ids=["declared", "chunked"])
def test_image_over_the_byte_limit_is_refused(supabase_storage: SupabaseStorageStandIn, photo: bytes,
                                              fetch_a_jpg: Callable[[], bytes], chunked: bool,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    supabase_storage.chunked = chunked     # without Content-Length the limit is checked while reading
    monkeypatch.setenv("MAX_IMAGE_BYTES", str(len(photo) - 1))
    with pytest.raises(ImageFetchError) as caught:
        fetch_a_jpg()
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
