"""face-selfie-search and the this-is-me / not-me actions on real photos, real models, real PostgreSQL."""

from __future__ import annotations

import base64
import io
import logging

import pytest
from PIL import Image, ImageFilter

from tests.functions.conftest import FunctionClient
from tests.security.db_attack import snapshot
from tests.selfie.conftest import PhotoEvent, search

COUNTED = ("faces", "face_persons", "media_tags", "media", "ml_jobs", "media_analyses", "face_person_not_me",
           "face_purge_log", "face_recognition_opt_outs")


def _everything(db) -> dict[str, list[str]]:
    """Every row of every table (the request counter aside: it counts every request by design)."""
    state = snapshot(db)
    state.pop("api_rate_limits")
    return state


def _counts(db) -> dict[str, int]:
    return {table: db.execute(f"select count(*) as n from {table}").fetchone()["n"] for table in COUNTED}


def test_a_selfie_finds_its_person_and_photos_and_is_stored_nowhere(
        db, photo_event: PhotoEvent, selfie_api: FunctionClient, analysed_photos,
        caplog: pytest.LogCaptureFixture) -> None:
    before = _everything(db)
    selfie = photo_event.selfies["bbt_amy"].read_bytes()
    with caplog.at_level(logging.DEBUG):
        response = search(selfie_api, photo_event.event, selfie, user=photo_event.member)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    found = set(body["media_ids"])
    amy = {str(m) for m in photo_event.media["bbt_amy"]}
    assert found <= amy and len(found) >= 0.75 * len(amy)
    assert len(body["persons"]) == 1 and 0 < body["persons"][0]["score"] <= 1
    # Never stored: every row of every table as it was, no face has the selfie's vector, nothing logged.
    assert _everything(db) == before
    embedding = analysed_photos["bbt_amy"][0][1]
    row = db.execute("select min(embedding::vector(256) <=> %s::vector(256)) as d from faces"
                     " where vector_dims(embedding) = 256", (embedding,)).fetchone()
    assert row["d"] > 1e-4
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert not any(f"{value:.4f}" in logged for value in embedding[:8].tolist())
    assert not any(chunk in logged for chunk in (selfie[200:232].hex(), base64.b64encode(selfie[200:232]).decode(),
                                                 selfie[200:232].decode("latin-1")))
    assert "selfie search" in logged


def _jpeg(image: Image.Image) -> bytes:
    stream = io.BytesIO()
    image.save(stream, format="JPEG", quality=92)
    return stream.getvalue()


def _shrunk(photo: Image.Image) -> Image.Image:
    """The face about 34 px tall in a larger grey photo."""
    canvas = Image.new("RGB", (600, 600), (120, 120, 120))
    canvas.paste(photo.resize((photo.width // 4, photo.height // 4)), (200, 200))
    return canvas


SELFIE_VARIANTS = {
    "unreadable_image": lambda faces: b"\xff\xd8 garbage",
    "no_face": lambda faces: _jpeg(Image.new("RGB", (400, 400), (180, 180, 180))),
    "several_faces": lambda faces: (faces / "group_photos" / "images" / "faceapi_bbt1.jpg").read_bytes(),
    "face_too_small": lambda faces: _jpeg(_shrunk(Image.open(faces / "dev" / "bbt_amy" / "amy1.jpg"))),
    "face_cut_off": lambda faces: _jpeg(Image.open(faces / "dev" / "bbt_amy" / "amy1.jpg").crop((50, 0, 150, 150))),
    "face_too_blurred": lambda faces: _jpeg(Image.open(faces / "group_photos" / "images" / "fr_obama1.jpg")
                                            .convert("RGB").filter(ImageFilter.GaussianBlur(10))),
}


@pytest.mark.parametrize("code", sorted(SELFIE_VARIANTS))
def test_bad_selfies_get_a_precise_422(db, photo_event: PhotoEvent, selfie_api: FunctionClient, faces_data_dir,
                                      code: str) -> None:
    before = _counts(db)
    response = search(selfie_api, photo_event.event, SELFIE_VARIANTS[code](faces_data_dir), user=photo_event.member)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == code and error["field"] == "body" and error["message"]
    if code == "several_faces":  # which faces to crop to
        assert len(error["faces"]) >= 2 and all(len(box) == 4 for box in error["faces"])
    assert _counts(db) == before


def test_this_is_me_links_and_not_me_is_never_offered_again(
        db, photo_event: PhotoEvent, selfie_api: FunctionClient, actions_api: FunctionClient) -> None:
    selfie = photo_event.selfies["lfw_David_Beckham"].read_bytes()
    person = search(selfie_api, photo_event.event, selfie, user=photo_event.member).get_json()["persons"][0]
    claim = {"action": "this_is_me", "event_id": str(photo_event.event), "person_id": person["person_id"]}
    assert actions_api.call(claim, user=photo_event.member).status_code == 200
    tags = db.execute("select count(*) as n from media_tags where user_id = %s and source = 'face'",
                      (photo_event.member,)).fetchone()["n"]
    assert tags == len(photo_event.media["lfw_David_Beckham"])
    # Someone else's person is not taken over.
    taken = actions_api.call(claim, user=photo_event.other_member)
    assert taken.status_code == 409 and taken.get_json()["error"]["code"] == "person_linked_to_someone_else"
    # The organiser undoes the link.
    undo = {"action": "unassign", "event_id": str(photo_event.event), "person_id": person["person_id"]}
    assert actions_api.call(undo, user=photo_event.organiser).status_code == 200
    # "Not me": never offered again to that member; still offered to the others.
    not_me = {"action": "not_me", "event_id": str(photo_event.event), "person_id": person["person_id"]}
    assert actions_api.call(not_me, user=photo_event.member).status_code == 200
    again = search(selfie_api, photo_event.event, selfie, user=photo_event.member).get_json()
    assert again["persons"] == [] and again["media_ids"] == []
    other = search(selfie_api, photo_event.event, selfie, user=photo_event.other_member).get_json()
    assert [p["person_id"] for p in other["persons"]] == [person["person_id"]]
    # The member's purge removes their "not me" records; then searching needs an opt-in (409).
    purge = {"action": "purge_my_data", "event_id": str(photo_event.event)}
    assert actions_api.call(purge, user=photo_event.member).status_code == 200
    assert db.execute("select count(*) as n from face_person_not_me where user_id = %s",
                      (photo_event.member,)).fetchone()["n"] == 0
    assert search(selfie_api, photo_event.event, selfie, user=photo_event.member).status_code == 409
    linked = actions_api.call(claim, user=photo_event.member)
    assert linked.status_code == 409 and linked.get_json()["error"]["code"] == "user_opted_out"
    assert db.execute("select linked_user_id from face_persons where id = %s",
                      (person["person_id"],)).fetchone()["linked_user_id"] is None


def test_an_event_on_a_pack_this_instance_cannot_load_is_a_503_not_a_guess(
        db, photo_event: PhotoEvent, selfie_api: FunctionClient) -> None:
    db.execute("insert into event_face_models (event_id, model) values (%s, 'buffalo_l')"
               " on conflict (event_id) do update set model = excluded.model", (photo_event.event,))
    before = _everything(db)
    response = search(selfie_api, photo_event.event, photo_event.selfies["bbt_amy"].read_bytes(),
                      user=photo_event.member)
    assert response.status_code == 503 and response.get_json()["error"]["code"] == "model_unavailable"
    assert response.headers["Retry-After"]
    assert _everything(db) == before


def test_searches_beyond_the_selfie_allowance_get_429_and_store_nothing(
        db, photo_event: PhotoEvent, selfie_api: FunctionClient, monkeypatch: pytest.MonkeyPatch) -> None:
    allowance = 2
    monkeypatch.setenv("SELFIE_RATE_LIMIT_PER_MINUTE", str(allowance))
    selfie = photo_event.selfies["bbt_amy"].read_bytes()
    for _ in range(2):  # a second round only if the minute turned over during the first
        db.execute("delete from api_rate_limits")
        assert all(search(selfie_api, photo_event.event, selfie, user=photo_event.member).status_code == 200
                   for _ in range(allowance))
        before = _everything(db)
        # Refused before any work: even an unreadable body gets the 429, not its 422.
        refused = search(selfie_api, photo_event.event, b"not a photo", user=photo_event.member)
        window = db.execute("select hits from api_rate_limits where endpoint = 'face-selfie-search'").fetchall()
        if [r["hits"] for r in window] == [allowance + 1]:
            break
    assert refused.status_code == 429 and refused.get_json()["error"]["code"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert _everything(db) == before
    # The other member has their own allowance.
    assert search(selfie_api, photo_event.event, selfie, user=photo_event.other_member).status_code == 200
