"""Attacks on the demo review server's photo route (``GET /photo?media_id=``).

The server runs as the demo runs it (a real :class:`ReviewServer` over the test's database and a
local object store holding a real photo). Only a signed-in member of the media's event gets the
bytes; another event's organiser, a stranger, no token, a forged token, a made-up or malformed
id, and a media row pointing outside the object store are each refused with a JSON error, and
not one byte of an image (or of the file the row names) is served.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import requests

from localdev.review.photo_access import ReviewPhotos
from localdev.review.server import ReviewServer
from localdev.review.snapshot import write_snapshot
from localdev.stack.tokens import mint_user_token
from shared.settings import Settings
from tests.factories import add_member, make_event, make_media

PHOTO = Path("group_photos") / "images" / "faceapi_bbt1.jpg"
SECRET = "review-photo-test-secret-of-enough-length"


@dataclass
class Scene:
    url: str
    photo: bytes
    organiser: uuid.UUID
    member: uuid.UUID
    media: uuid.UUID
    rival_organiser: uuid.UUID
    rival_media: uuid.UUID
    db: psycopg.Connection
    store: Path


@pytest.fixture
def scene(db: psycopg.Connection, database_url: str, faces_data_dir: Path, tmp_path: Path) -> Iterator[Scene]:
    store = tmp_path / "objects"
    store.mkdir()
    photo = Path(shutil.copy2(faces_data_dir / PHOTO, store / "photo.jpg"))
    settings = Settings.from_env().model_copy(update={"supabase_jwt_secret": SECRET, "supabase_jwks_url": None,
                                                      "local_storage_dir": store})
    organiser, rival_organiser = uuid.uuid4(), uuid.uuid4()
    event, rival_event = make_event(db, owner_id=organiser), make_event(db, owner_id=rival_organiser)
    rival_photo = Path(shutil.copy2(photo, store / "rival.jpg"))
    server = ReviewServer({}, photos=ReviewPhotos(settings, database_url))
    server.start()
    try:
        yield Scene(server.url + "photo", photo.read_bytes(), organiser, add_member(db, event),
                    make_media(db, event, storage_path=photo.as_uri()), rival_organiser,
                    make_media(db, rival_event, storage_path=rival_photo.as_uri()), db, store)
    finally:
        server.stop()


def _get(scene: Scene, media: object, user: uuid.UUID | None = None, token: str | None = None) -> requests.Response:
    token = token or (mint_user_token(SECRET, user) if user is not None else None)
    headers = {"Authorization": "Bearer " + token} if token else {}
    return requests.get(scene.url, params={"media_id": str(media)}, headers=headers, timeout=30)


def _refused(response: requests.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == code
    assert b"\xff\xd8\xff" not in response.content   # no JPEG, not even a piece of one


def test_members_of_the_event_get_the_photo(scene: Scene) -> None:
    """The control: the route does serve, so each refusal below is a refusal."""
    for user in (scene.organiser, scene.member):
        response = _get(scene, scene.media, user)
        assert response.status_code == 200 and response.content == scene.photo
        assert response.headers["Content-Type"] == "image/jpeg"
        assert response.headers["Cache-Control"] == "no-store"


def test_another_events_media_is_refused_to_its_rival_and_back(scene: Scene) -> None:
    _refused(_get(scene, scene.rival_media, scene.organiser), 404, "media_not_found")
    _refused(_get(scene, scene.media, scene.rival_organiser), 404, "media_not_found")


def test_a_stranger_is_refused_as_if_the_media_did_not_exist(scene: Scene) -> None:
    stranger = _get(scene, scene.media, uuid.uuid4())
    made_up = _get(scene, uuid.uuid4(), uuid.uuid4())
    _refused(stranger, 404, "media_not_found")
    _refused(made_up, 404, "media_not_found")
    assert stranger.json()["error"].keys() == made_up.json()["error"].keys()


def test_no_token_or_a_forged_one_is_refused(scene: Scene) -> None:
    _refused(_get(scene, scene.media), 401, "missing_token")
    forged = mint_user_token("not-the-stack-secret-but-long-enough", scene.organiser)
    _refused(_get(scene, scene.media, token=forged), 401, "invalid_token")


@pytest.mark.parametrize("media_id", ["", "not-a-uuid", "../../etc/passwd", "photo.jpg"])
def test_a_malformed_id_is_refused(scene: Scene, media_id: str) -> None:
    _refused(_get(scene, media_id, scene.organiser), 400, "invalid_request")


def test_a_made_up_id_is_refused(scene: Scene) -> None:
    _refused(_get(scene, uuid.uuid4(), scene.organiser), 404, "media_not_found")


def test_a_path_named_by_the_client_is_never_read(scene: Scene) -> None:
    response = requests.get(scene.url, params={"path": str(scene.store / "photo.jpg"), "storage_path": "photo.jpg"},
                            headers={"Authorization": "Bearer " + mint_user_token(SECRET, scene.organiser)},
                            timeout=30)
    _refused(response, 400, "invalid_request")


@pytest.mark.parametrize("storage_path", ["file:///etc/passwd", "file:///proc/self/environ",
                                          "http://127.0.0.1:1/x.jpg", "../../etc/passwd", "gs://another/x.jpg"])
def test_a_media_row_pointing_outside_the_store_serves_nothing(scene: Scene, storage_path: str) -> None:
    """The row is hostile data: the worker's location rules decide, and the refusal echoes nothing read."""
    media = make_media(scene.db, scene.db.execute("select event_id from media where id = %s",
                                                  (scene.media,)).fetchone()["event_id"], storage_path=storage_path)
    response = _get(scene, media, scene.organiser)
    _refused(response, 404, "media_not_found")
    assert b"root:" not in response.content and b"PATH=" not in response.content


def test_a_file_browsers_cannot_show_is_not_served(scene: Scene) -> None:
    """Only image signatures are served, whatever the row or the file name says."""
    page = scene.store / "page.jpg"
    page.write_bytes(b"<html><script>alert(1)</script></html>")
    event = scene.db.execute("select event_id from media where id = %s", (scene.media,)).fetchone()["event_id"]
    response = _get(scene, make_media(scene.db, event, storage_path=page.as_uri()), scene.organiser)
    _refused(response, 415, "photo_not_displayable")
    assert b"<script>" not in response.content


def test_the_snapshot_carries_no_photo_control(tmp_path: Path) -> None:
    """Read-only and opened from disk: no photo.js (a file of that name beside it would run), no photo URL."""
    (tmp_path / "photo.js").write_text("window.loadedFromDisk = true;")
    html = write_snapshot(tmp_path / "review.html", {"persons": []}, {"title": "t"}).read_text()
    assert 'src="photo.js"' not in html and "window.faceclusterPhoto =" not in html
