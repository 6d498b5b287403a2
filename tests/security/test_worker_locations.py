"""The detection worker attacked through its media rows and its push messages (issue #13, item 2).

Each hostile ``storage_path`` goes through the real detect_push target (functions-framework
app, real database, real models): the delivery is acknowledged (200: redelivery cannot help),
the job fails for good with an error naming the rule, nothing is analysed or stored, the
internal stand-in on loopback never sees a connection, and neither ``ml_jobs.error`` nor the
push response carries a byte of what any server or file held.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from flask.testing import FlaskClient

from shared.settings import Settings, SettingsError, get_settings
from shared.storage import ImageLocation, LocationRefused, fetch_image
from shared.storage.guarded_http import is_public_address
from tests.detection.conftest import face_count, job_row, make_detect_job, push_envelope
from tests.security.internal_server import SECRET, InternalServer, internal_server
from tests.support.supabase_storage import SupabaseStorageStandIn

BUCKET = "event-media"
LEAKS = (SECRET, "root:x:0:0", "PATH=", "DATABASE_URL")


@pytest.fixture
def internal() -> Iterator[InternalServer]:
    with internal_server() as server:
        yield server


def _media_state(db: psycopg.Connection, media_id: object) -> tuple:
    media = db.execute("select * from media where id = %s", (media_id,)).fetchone()
    analyses = db.execute("select count(*) as n from media_analyses where media_id = %s", (media_id,)).fetchone()
    return media, analyses["n"], face_count(db, media_id)


def _assert_refused(client: FlaskClient, db: psycopg.Connection, storage_path: str, rule: str,
                    internal: InternalServer) -> None:
    case = make_detect_job(db, f"storage://{BUCKET}/events/e1/a.jpg", storage_path=storage_path)
    media_before = _media_state(db, case.media_id)

    response = client.post("/", json=case.envelope)

    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["status"] == "failed"
    assert body["error"].startswith(f"location_refused: rule {rule}:"), body["error"]
    job = job_row(db, case.job_id)
    assert (job["status"], job["error"]) == ("failed", body["error"])
    assert _media_state(db, case.media_id) == media_before   # the row as it was, no analysis, no faces
    for leak in LEAKS:
        assert leak not in job["error"] and leak not in response.get_data(as_text=True)
    assert internal.connections == 0


@pytest.fixture
def bad_symlink(tmp_path: Path) -> str:
    """A file inside the local store that is a symlink to /etc/passwd."""
    link = tmp_path / "events" / "innocent.jpg"
    link.parent.mkdir()
    link.symlink_to("/etc/passwd")
    return link.as_uri()


@pytest.mark.parametrize("storage_path", [
    "file:///etc/passwd",
    "file:///proc/self/environ",
    "file://localhost/etc/passwd",
    "file://internal.example/etc/passwd",
    "{root}/../../../../etc/passwd",
    "{root}/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "{root}/a.jpg%00/../../../../etc/passwd",
    "symlink",
])
def test_file_locations_outside_the_local_store_are_refused(client: FlaskClient, db: psycopg.Connection,
                                                            internal: InternalServer, tmp_path: Path,
                                                            bad_symlink: str, storage_path: str) -> None:
    path = bad_symlink if storage_path == "symlink" else storage_path.format(root=tmp_path.as_uri())
    _assert_refused(client, db, path, "file_root", internal)


def test_file_locations_are_refused_where_the_local_store_is_not_enabled(
        client: FlaskClient, db: psycopg.Connection, internal: InternalServer, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, group_photo: bytes) -> None:
    monkeypatch.delenv("LOCAL_STORAGE_DIR")
    (tmp_path / "photo.jpg").write_bytes(group_photo)     # even a real photo: file:// is off outside the demo
    _assert_refused(client, db, (tmp_path / "photo.jpg").as_uri(), "file_disabled", internal)


@pytest.mark.parametrize("storage_path", [
    "../../../../etc/passwd",
    "events/../../../../etc/passwd",
    "events/./a.jpg",
    "/etc/passwd",
    "//internal.example/a.jpg",
    "events\\..\\..\\secret.jpg",
    "events/a.jpg\n/../../x",
])
def test_object_keys_that_leave_the_bucket_are_refused(client: FlaskClient, db: psycopg.Connection,
                                                       internal: InternalServer, storage_path: str) -> None:
    _assert_refused(client, db, storage_path, "storage_key", internal)


@pytest.mark.parametrize("storage_path", [
    "{internal}/computeMetadata/v1/instance/service-accounts/default/token",
    "HTTP://127.0.0.1:{port}/",
    "storage://event-media/events/e1/a.jpg",
    "ftp://127.0.0.1:{port}/a.jpg",
    "gopher://127.0.0.1:{port}/_FLUSHALL",
    "data:image/jpeg;base64,/9j/4AAQ",
    "gs:event-media/a.jpg",
])
def test_other_schemes_are_refused(client: FlaskClient, db: psycopg.Connection, internal: InternalServer,
                                   storage_path: str) -> None:
    _assert_refused(client, db, storage_path.format(internal=internal.url, port=internal.port), "scheme", internal)


@pytest.mark.parametrize("storage_path", [
    "https://127.0.0.1:{port}/a.jpg",
    "https://localhost:{port}/a.jpg",
    "https://[::1]:{port}/a.jpg",
    "https://2130706433:{port}/a.jpg",
    "https://169.254.169.254/computeMetadata/v1/",
    "https://metadata.google.internal/computeMetadata/v1/",
    "https://images.example.com@127.0.0.1:{port}/a.jpg",
    "https://images.example.com:{port}/a.jpg",
    "https://images.example.com.evil.example/a.jpg",
])
def test_https_outside_the_allow_list_is_refused(client: FlaskClient, db: psycopg.Connection,
                                                 internal: InternalServer, monkeypatch: pytest.MonkeyPatch,
                                                 storage_path: str) -> None:
    monkeypatch.setenv("IMAGE_ALLOWED_HOSTS", "images.example.com")
    _assert_refused(client, db, storage_path.format(port=internal.port), "https_host", internal)


def test_gs_locations_outside_the_uploads_bucket_are_refused(client: FlaskClient, db: psycopg.Connection,
                                                             internal: InternalServer,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    _assert_refused(client, db, "gs://uploads/a.jpg", "gcs_bucket", internal)   # UPLOADS_BUCKET unset
    monkeypatch.setenv("UPLOADS_BUCKET", "uploads")
    _assert_refused(client, db, "gs://someone-elses-bucket/a.jpg", "gcs_bucket", internal)
    _assert_refused(client, db, "gs://uploads/../other/a.jpg", "storage_key", internal)


def test_the_message_image_is_never_fetched(client: FlaskClient, db: psycopg.Connection, internal: InternalServer,
                                            supabase_storage: SupabaseStorageStandIn, group_photo: bytes) -> None:
    supabase_storage.put(BUCKET, "events/e1/group.jpg", group_photo)
    case = make_detect_job(db, f"{internal.url}/latest/meta-data", storage_path="events/e1/group.jpg")
    response = client.post("/", json=case.envelope)
    assert response.status_code == 200 and response.get_json()["status"] == "completed"
    assert face_count(db, case.media_id) == 4          # the row's photo was analysed
    assert internal.connections == 0 and supabase_storage.downloads == 1


def test_a_redirect_from_storage_is_not_followed(client: FlaskClient, db: psycopg.Connection,
                                                 internal: InternalServer, supabase_storage: SupabaseStorageStandIn,
                                                 group_photo: bytes) -> None:
    supabase_storage.put(BUCKET, "events/e1/group.jpg", group_photo)
    supabase_storage.answer_next_download(302, b"", "text/plain", {"Location": f"{internal.url}/secret"})
    case = make_detect_job(db, f"storage://{BUCKET}/events/e1/group.jpg", storage_path="events/e1/group.jpg")
    response = client.post("/", json=case.envelope)
    assert response.status_code == 200
    error = job_row(db, case.job_id)["error"]
    assert error.startswith("location_refused: rule redirect:") and "secret" not in error
    assert face_count(db, case.media_id) == 0 and internal.connections == 0


@pytest.mark.parametrize(("status", "content_type", "code"), [
    (403, "application/json", "refused:"),
    (404, "text/html", "not_found:"),
    (200, "text/html", "error_body:"),
    (200, "image/jpeg", "error_body:"),
])
def test_what_storage_answered_never_reaches_the_job_or_the_response(
        client: FlaskClient, db: psycopg.Connection, supabase_storage: SupabaseStorageStandIn, group_photo: bytes,
        status: int, content_type: str, code: str) -> None:
    supabase_storage.put(BUCKET, "events/e1/group.jpg", group_photo)
    body = f'<?xml version="1.0"?><Error><Message>{SECRET} root:x:0:0</Message></Error>'.encode()
    supabase_storage.answer_next_download(status, body, content_type)
    case = make_detect_job(db, f"storage://{BUCKET}/events/e1/group.jpg", storage_path="events/e1/group.jpg")
    response = client.post("/", json=case.envelope)
    error = job_row(db, case.job_id)["error"]
    assert response.status_code == 200 and error.startswith(code), error
    for leak in LEAKS:
        assert leak not in error and leak not in response.get_data(as_text=True)


def test_notifications_of_other_buckets_create_no_job(client: FlaskClient, db: psycopg.Connection) -> None:
    attributes = {"eventType": "OBJECT_FINALIZE", "bucketId": "someone-elses-bucket", "objectId": "events/a.jpg"}
    jobs_before = db.execute("select count(*) as n from ml_jobs").fetchone()["n"]
    response = client.post("/", json=push_envelope(b"{}", attributes))
    assert response.status_code == 200 and response.get_json()["status"] == "ignored"
    assert db.execute("select count(*) as n from ml_jobs").fetchone()["n"] == jobs_before


def test_an_allowed_name_that_resolves_to_loopback_is_never_connected(internal: InternalServer) -> None:
    """DNS cannot be shaped in a test, so ``localhost`` (which IMAGE_ALLOWED_HOSTS itself refuses)
    stands for an allowed name whose record points inside: the connection checks the address."""
    settings = get_settings().model_copy(update={"image_allowed_hosts": ("localhost",)})
    with pytest.raises(LocationRefused) as caught:
        fetch_image(ImageLocation("https", url=f"https://localhost:{internal.port}/a.jpg"), settings)
    assert caught.value.rule == "public_address" and "127.0.0.1" in str(caught.value)
    assert internal.connections == 0


@pytest.mark.parametrize(("address", "public"), [
    ("127.0.0.1", False), ("127.8.9.10", False), ("::1", False), ("0.0.0.0", False), ("::", False),
    ("10.1.2.3", False), ("172.16.0.1", False), ("192.168.1.1", False), ("100.64.0.1", False),
    ("169.254.169.254", False), ("fe80::1%eth0", False), ("fd00:ec2::254", False), ("224.0.0.1", False),
    ("::ffff:127.0.0.1", False), ("::ffff:169.254.169.254", False), ("64:ff9b::a9fe:a9fe", False),
    ("2002:7f00:1::", False), ("2001:0:4136:e378:8000:63bf:80ff:fffe", False),
    ("8.8.8.8", True), ("142.250.74.46", True), ("2001:4860:4860::8888", True),
])
def test_public_address_rule(address: str, public: bool) -> None:
    assert is_public_address(address) is public


@pytest.mark.parametrize("hosts", ["localhost", "127.0.0.1", "127.1", "2130706433", "[::1]", "*.example.com",
                                   "https://images.example.com", "images.example.com:443", "images.example.com/a",
                                   "images example.com"])
def test_allow_list_entries_must_be_host_names_at_start_up(hosts: str) -> None:
    with pytest.raises(SettingsError, match="IMAGE_ALLOWED_HOSTS"):
        Settings.from_env({"IMAGE_ALLOWED_HOSTS": hosts})


def test_local_storage_dir_must_be_absolute_at_start_up() -> None:
    with pytest.raises(SettingsError, match="LOCAL_STORAGE_DIR"):
        Settings.from_env({"LOCAL_STORAGE_DIR": "relative/objects"})
