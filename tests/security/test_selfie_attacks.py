"""Selfie search and "not me" attacked: through the HTTP endpoint and through the database roles.

Each refusal has its precise status and leaves every table as it was (the rate-limit counter
aside: it counts refused requests by design).
"""

from __future__ import annotations

import uuid

import pytest

from tests.factories import add_member, make_event
from tests.functions.conftest import FunctionClient, mint_token
from tests.security.db_attack import Caller, attempt, snapshot
from tests.selfie.conftest import PhotoEvent, search


def _state(db) -> dict[str, list[str]]:
    state = snapshot(db)
    state.pop("api_rate_limits")
    return state


@pytest.mark.parametrize("who", ["anon", "forged", "expired", "stranger", "other_event_member", "bad_event_id",
                                 "disabled_event"])
def test_outsiders_and_forged_tokens_are_refused(db, photo_event: PhotoEvent, selfie_api: FunctionClient,
                                                 who: str) -> None:
    selfie = photo_event.selfies["bbt_amy"].read_bytes()
    other = make_event(db)
    disabled = make_event(db, enabled=False)
    cases = {
        "anon": (photo_event.event, None, 401),
        "forged": (photo_event.event, mint_token(photo_event.member, secret="not-the-project-secret"), 401),
        "expired": (photo_event.event, mint_token(photo_event.member, expires_in=-60), 401),
        "stranger": (photo_event.event, mint_token(uuid.uuid4()), 403),
        "other_event_member": (photo_event.event, mint_token(add_member(db, other)), 403),
        "bad_event_id": ("not-a-uuid", mint_token(photo_event.member), 400),
        "disabled_event": (disabled, mint_token(add_member(db, disabled)), 403),
    }
    event, token, status = cases[who]
    before = _state(db)
    response = search(selfie_api, event, selfie, token=token)
    assert response.status_code == status, response.get_json()
    assert "media_ids" not in response.get_json()
    assert _state(db) == before


def test_hostile_bodies_get_precise_refusals(db, photo_event: PhotoEvent, selfie_api: FunctionClient,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SELFIE_MAX_BYTES", "200000")
    before = _state(db)
    huge = search(selfie_api, photo_event.event, b"\xff\xd8" + b"\0" * 300_000, user=photo_event.member)
    assert huge.status_code == 413 and huge.get_json()["error"]["code"] == "body_too_large"
    empty = search(selfie_api, photo_event.event, b"", user=photo_event.member)
    assert empty.status_code == 400 and empty.get_json()["error"]["field"] == "body"
    garbage = search(selfie_api, photo_event.event, bytes(range(256)) * 100, user=photo_event.member)
    assert garbage.status_code == 422 and garbage.get_json()["error"]["code"] == "unreadable_image"
    bomb = search(selfie_api, photo_event.event, _png_header(60_000, 60_000), user=photo_event.member)
    assert bomb.status_code == 422 and bomb.get_json()["error"]["code"] == "unreadable_image"
    assert _state(db) == before


def _png_header(width: int, height: int) -> bytes:
    """A PNG that declares a huge image (a decompression bomb) and holds nothing."""
    import struct
    import zlib

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + header
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(header)) + chunk + struct.pack(">I", zlib.crc32(chunk))


def test_not_me_rows_are_neither_written_nor_read_across_users_through_the_api_roles(
        db, photo_event: PhotoEvent) -> None:
    person = db.execute("select id from face_persons where event_id = %s limit 1",
                        (photo_event.event,)).fetchone()["id"]
    db.execute("insert into face_person_not_me (event_id, person_id, user_id) values (%s, %s, %s)",
               (photo_event.event, person, photo_event.other_member))
    before = snapshot(db)
    member = Caller("member", "authenticated", {"sub": str(photo_event.member), "role": "authenticated"})
    forged = Caller("forged", "authenticated", {"sub": str(photo_event.member), "role": "service_role"})
    anon = Caller("anon", "anon", {"role": "anon"})
    row = {"e": photo_event.event, "p": person, "u": photo_event.member}
    for caller in (member, forged, anon):
        assert attempt(db, caller, "insert into face_person_not_me (event_id, person_id, user_id)"
                       " values (%(e)s, %(p)s, %(u)s)", row) == "refused"
        assert attempt(db, caller, "delete from face_person_not_me", row) in ("refused", "rows=0")
    assert attempt(db, anon, "select * from face_person_not_me", row) == "refused"
    assert attempt(db, member, "select * from face_person_not_me", row) == "rows=0"  # not another user's
    assert snapshot(db) == before


def test_not_me_cannot_reference_another_events_person(db, photo_event: PhotoEvent) -> None:
    import psycopg

    other = make_event(db)
    person = db.execute("select id from face_persons where event_id = %s limit 1",
                        (photo_event.event,)).fetchone()["id"]
    with pytest.raises(psycopg.errors.ForeignKeyViolation), db.transaction():
        db.execute("insert into face_person_not_me (event_id, person_id, user_id) values (%s, %s, %s)",
                   (other, person, photo_event.member))
