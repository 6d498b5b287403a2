"""Merge suggestions in face-persons, and "Same person" / "Different" in face-person-actions."""

from __future__ import annotations

import uuid

import numpy as np
import psycopg
import pytest

from shared.clustering.cluster_event import cluster_event
from shared.clustering.suggestions import min_similarity, pair_key, suggest_merges
from shared.settings import get_settings
from tests.functions.suggestion_scene import Scene, build_scene
from tests.functions.world import MODEL, check_invariants


@pytest.fixture
def scene(db: psycopg.Connection, api_env: None) -> Scene:
    return build_scene(db)


def _suggested(persons_api, scene: Scene, user: uuid.UUID | None = None) -> list[tuple[uuid.UUID, uuid.UUID, float]]:
    response = persons_api.call({"event_id": str(scene.event), "include_suggestions": True},
                                user=user or scene.member)
    assert response.status_code == 200, response.get_json()
    return [(uuid.UUID(s["a"]["id"]), uuid.UUID(s["b"]["id"]), s["score"]) for s in response.get_json()["suggestions"]]


def _names(scene: Scene, pairs: list[tuple[uuid.UUID, uuid.UUID, float]]) -> list[set[str]]:
    name_of = {v: k for k, v in scene.persons.items()}
    return [{name_of[a], name_of[b]} for a, b, _ in pairs]


def test_suggests_split_persons_best_first_never_across_a_photo_an_ignored_person_or_strangers(
        persons_api, scene) -> None:
    response = persons_api.call({"event_id": str(scene.event), "include_suggestions": True}, user=scene.member)
    body = response.get_json()
    assert [{s["a"]["id"], s["b"]["id"]} for s in body["suggestions"]] == [
        {str(scene.persons["x1"]), str(scene.persons["x2"])}, {str(scene.persons["v1"]), str(scene.persons["v2"])}]
    first = body["suggestions"][0]
    assert first["score"] > body["suggestions"][1]["score"] >= min_similarity(MODEL)
    assert first["a"]["id"] < first["b"]["id"]
    assert first["a"]["thumbnail"].startswith("data:image/jpeg;base64,")
    assert len(first["a"]["sample_faces"]) == first["a"]["face_count"] - 1  # all but the representative
    assert "suggestions" not in persons_api.call({"event_id": str(scene.event)}, user=scene.member).get_json()


def test_the_endpoint_and_the_offline_rule_agree(db, persons_api, scene) -> None:
    """The SQL (pgvector) and :func:`suggest_merges` (numpy) are one rule: same pairs, order and scores."""
    rows = db.execute("select f.embedding, f.media_id, f.person_id, p.status from faces f"
                      " join face_persons p on p.id = f.person_id where f.event_id = %s", (scene.event,)).fetchall()
    order = sorted({r["person_id"] for r in rows})
    labels = np.array([order.index(r["person_id"]) if r["status"] == "active" else -1 for r in rows])
    photos = np.unique([str(r["media_id"]) for r in rows], return_inverse=True)[1]
    vectors = np.stack([np.asarray(r["embedding"].to_numpy(), dtype=np.float32) for r in rows])
    offline = suggest_merges(vectors, labels, photos, min_similarity(MODEL))
    online = _suggested(persons_api, scene)
    assert [(order[s.a], order[s.b]) for s in offline] == [(a, b) for a, b, _ in online]
    assert [s.score for s in offline] == pytest.approx([score for _, _, score in online], abs=1e-3)


def test_different_is_remembered_in_both_directions_and_across_re_clustering(db, persons_api, actions_api,
                                                                              scene) -> None:
    x1, x2 = scene.persons["x1"], scene.persons["x2"]
    body = {"action": "reject_suggestion", "event_id": str(scene.event), "person_id": str(x2),
            "other_person_id": str(x1)}
    first = actions_api.call(body, user=scene.organiser)
    assert first.status_code == 200 and first.get_json()["recorded"] is True
    again = actions_api.call({**body, "person_id": str(x1), "other_person_id": str(x2)}, user=scene.organiser)
    assert again.status_code == 200 and again.get_json()["recorded"] is False  # the same pair, either way
    assert _names(scene, _suggested(persons_api, scene)) == [{"v1", "v2"}]

    cluster_event(db, scene.event, get_settings(), MODEL)
    persons_of = {r["id"]: r["person_id"] for r in db.execute("select id, person_id from faces where event_id = %s",
                                                              (scene.event,))}
    assert {persons_of[f] for f in scene.faces["x1"]} == {x1} and {persons_of[f] for f in scene.faces["x2"]} == {x2}
    # Control: the pair nobody answered for is one person after re-clustering (the distances make it so).
    assert len({persons_of[f] for f in scene.faces["v1"] + scene.faces["v2"]}) == 1
    assert _suggested(persons_api, scene) == []
    check_invariants(db, scene.event)


def test_same_person_merges_the_smaller_into_the_larger(db, persons_api, actions_api, scene) -> None:
    x1, x2 = scene.persons["x1"], scene.persons["x2"]
    response = actions_api.call({"action": "accept_suggestion", "event_id": str(scene.event),
                                 "person_id": str(x2), "other_person_id": str(x1)}, user=scene.organiser)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["person"]["id"], body["merged_person_id"], body["person"]["face_count"]) == (str(x1), str(x2), 7)
    assert db.execute("select status, merged_into from face_persons where id = %s", (x2,)).fetchone() == {
        "status": "merged", "merged_into": x1}
    assert _names(scene, _suggested(persons_api, scene)) == [{"v1", "v2"}]
    check_invariants(db, scene.event)


def test_a_merged_person_hands_its_differences_to_the_person_it_went_into(db, actions_api, scene) -> None:
    """x1 is not v1; x2 is x1: so x2 (which x1 went into) is not v1 either."""
    x1, x2, v1 = scene.persons["x1"], scene.persons["x2"], scene.persons["v1"]
    actions_api.call({"action": "reject_suggestion", "event_id": str(scene.event), "person_id": str(x1),
                      "other_person_id": str(v1)}, user=scene.organiser)
    actions_api.call({"action": "merge", "event_id": str(scene.event), "person_id": str(x1),
                      "into_person_id": str(x2)}, user=scene.organiser)
    pairs = {pair_key(r["person_a"], r["person_b"]) for r in db.execute(
        "select person_a, person_b from face_person_distinctions where event_id = %s", (scene.event,))}
    assert pairs == {pair_key(x1, v1), pair_key(x2, v1)}


@pytest.mark.parametrize(("change", "status", "code"), [
    ({"other_person_id": "x1"}, 400, "invalid_request"),           # a person and itself
    ({"other_person_id": str(uuid.UUID(int=7))}, 404, "person_not_found"),
    ({"person_id": None}, 400, "invalid_request"),
    ({"other_person_id": "not-a-uuid"}, 400, "invalid_request"),
])
@pytest.mark.parametrize("action", ["accept_suggestion", "reject_suggestion"])
def test_bad_pairs_are_refused_precisely_and_change_nothing(db, actions_api, scene, action: str,
                                                             change: dict, status: int, code: str) -> None:
    before = db.execute("select (select count(*) from face_person_distinctions) as d,"
                        " (select count(*) from face_persons where status = 'merged') as m").fetchone()
    body = {"action": action, "event_id": str(scene.event), "person_id": str(scene.persons["x1"]),
            "other_person_id": str(scene.persons["x2"]),
            **{k: str(scene.persons.get(v, v)) if v else v for k, v in change.items()}}
    response = actions_api.call(body, user=scene.organiser)
    assert response.status_code == status and response.get_json()["error"]["code"] == code
    assert db.execute("select (select count(*) from face_person_distinctions) as d,"
                      " (select count(*) from face_persons where status = 'merged') as m").fetchone() == before
