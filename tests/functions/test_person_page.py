"""face-persons with person_id: every face of one person, paged, for the person page."""

from __future__ import annotations

import uuid

from tests.factories import make_event
from tests.functions.world import add_person


def _page(persons_api, world, user: uuid.UUID, **params) -> tuple[int, dict]:
    response = persons_api.call({"event_id": str(world.event), "person_id": str(world.persons["big"]), **params},
                                user=user)
    return response.status_code, response.get_json()


def test_lists_every_face_of_the_person_best_first_in_pages(db, persons_api, world) -> None:
    status, first = _page(persons_api, world, world.bob, limit=3)
    assert status == 200
    assert first["person"]["id"] == str(world.persons["big"]) and first["person"]["face_count"] == 4
    assert (len(first["faces"]), first["total"], first["next_offset"]) == (3, 4, 3)
    _, second = _page(persons_api, world, world.bob, limit=3, offset=3)
    assert (len(second["faces"]), second["next_offset"]) == (1, None)
    expected = [str(r["id"]) for r in db.execute("select id from faces where person_id = %s order by quality desc, id",
                                                 (world.persons["big"],))]
    assert [f["face_id"] for f in first["faces"] + second["faces"]] == expected
    assert all(f["thumbnail"].startswith("data:image/jpeg;base64,") and f["assignment"] == "cluster"
               for f in first["faces"])


def test_not_this_person_takes_the_face_off_the_page(db, persons_api, actions_api, world) -> None:
    _, before = _page(persons_api, world, world.bob)
    face = before["faces"][0]["face_id"]
    response = actions_api.call({"action": "remove_face", "event_id": str(world.event),
                                 "person_id": str(world.persons["big"]), "face_id": face}, user=world.organiser)
    assert response.status_code == 200
    _, after = _page(persons_api, world, world.bob)
    assert face not in [f["face_id"] for f in after["faces"]] and after["total"] == 3


def test_a_person_of_another_event_is_not_found_and_outsiders_are_refused(db, persons_api, world) -> None:
    other_event = make_event(db, owner_id=world.outsider)
    foreign = add_person(db, other_event, [])
    response = persons_api.call({"event_id": str(world.event), "person_id": str(foreign)}, user=world.bob)
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "person_not_found"
    status, body = _page(persons_api, world, world.outsider)
    assert status == 403 and "faces" not in body
    status, body = _page(persons_api, world, world.bob, person_id="../etc")
    assert status == 400 and body["error"]["field"] == "person_id"
