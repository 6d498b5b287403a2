"""face-persons: the review page's list, through the functions-framework app and a real server."""

from __future__ import annotations

import base64

import requests

from tests.functions.conftest import function_client, mint_token
from tests.functions.world import add_person
from tests.support.loopback import serve_wsgi


def _jpeg(data_url: str) -> bytes:
    prefix = "data:image/jpeg;base64,"
    assert data_url.startswith(prefix)
    data = base64.b64decode(data_url[len(prefix):])
    assert data[:2] == b"\xff\xd8"
    return data


def test_lists_persons_by_face_count_with_thumbnails_and_unassigned(db, persons_api, world) -> None:
    response = persons_api.call(method="GET", query={"event_id": str(world.event), "include_unassigned": "true"},
                                user=world.bob)
    assert response.status_code == 200
    body = response.get_json()
    assert [p["id"] for p in body["persons"]] == [str(world.persons[k]) for k in ("big", "alice", "small")]
    big, alice, small = body["persons"]
    assert (big["face_count"], big["media_count"], big["status"]) == (4, 4, "active")
    assert alice["linked_user_id"] == str(world.alice) and big["linked_user_id"] is None
    stored = db.execute("select f.thumbnail from faces f join face_persons p on p.representative_face_id = f.id"
                        " where p.id = %s", (world.persons["big"],)).fetchone()["thumbnail"]
    assert _jpeg(big["thumbnail"]) == bytes(stored)
    assert len(big["sample_faces"]) == 3 and big["representative_face_id"] not in {
        s["face_id"] for s in big["sample_faces"]}
    for sample in big["sample_faces"]:
        _jpeg(sample["thumbnail"])
    assert small["sample_faces"] == []
    assert body["unassigned_count"] == 1 and len(body["unassigned"]) == 1
    _jpeg(body["unassigned"][0]["thumbnail"])
    assert (body["total"], body["next_offset"]) == (3, None)


def test_pagination_and_merged_persons_only_on_request(db, persons_api, world) -> None:
    db.execute("update face_persons set status = 'merged', merged_into = %s where id = %s",
               (world.persons["big"], add_person(db, world.event, [])))
    first = persons_api.call({"event_id": str(world.event), "limit": 2}, user=world.alice).get_json()
    assert len(first["persons"]) == 2 and (first["total"], first["next_offset"]) == (3, 2)
    assert "unassigned" not in first and first["unassigned_count"] == 1
    second = persons_api.call({"event_id": str(world.event), "limit": 2, "offset": 2}, user=world.alice).get_json()
    assert [p["id"] for p in second["persons"]] == [str(world.persons["small"])] and second["next_offset"] is None
    everything = persons_api.call({"event_id": str(world.event), "include_merged": True}, user=world.alice).get_json()
    merged = [p for p in everything["persons"] if p["status"] == "merged"]
    assert everything["total"] == 4 and merged[0]["merged_into"] == str(world.persons["big"])


def test_through_a_real_server_on_loopback(world) -> None:
    with serve_wsgi(function_client("face_persons").client.application) as base_url:
        response = requests.get(base_url, params={"event_id": str(world.event)},
                                headers={"Authorization": f"Bearer {mint_token(world.alice)}"}, timeout=30)
        assert response.status_code == 200 and len(response.json()["persons"]) == 3
        assert requests.get(base_url, params={"event_id": str(world.event)}, timeout=30).status_code == 401
