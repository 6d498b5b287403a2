"""Issue 16's endpoints attacked as a hostile client would: suggestions, the person page, same/different.

Each attack is refused with the status the API promises and leaves the database as it was.
"""

from __future__ import annotations

import uuid

import psycopg
import pytest

from tests.factories import make_event, make_media
from tests.functions.conftest import api_env, function_client, mint_token  # noqa: F401 (api_env: a fixture)
from tests.functions.suggestion_scene import Scene, build_scene
from tests.functions.world import add_person
from tests.security.db_attack import snapshot


def data(db: psycopg.Connection) -> dict[str, list[str]]:
    """The database minus the rate-limit counters, which every request (refused or not) advances."""
    return {table: rows for table, rows in snapshot(db).items() if table != "api_rate_limits"}


@pytest.fixture
def scene(db: psycopg.Connection, api_env: None) -> Scene:  # noqa: F811 (the imported fixture)
    return build_scene(db)


@pytest.fixture
def rival(db: psycopg.Connection, scene: Scene) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    """Another event's organiser, that event and one person of it."""
    organiser = uuid.uuid4()
    event = make_event(db, owner_id=organiser)
    return organiser, event, add_person(db, event, [])


def _pair(scene: Scene, action: str, event: uuid.UUID | None = None) -> dict:
    return {"action": action, "event_id": str(event or scene.event), "person_id": str(scene.persons["x1"]),
            "other_person_id": str(scene.persons["x2"])}


@pytest.mark.parametrize("action", ["accept_suggestion", "reject_suggestion"])
def test_nobody_but_an_organiser_answers_a_suggestion(db, scene, rival, action: str) -> None:
    actions = function_client("face_person_actions")
    rival_organiser, rival_event, rival_person = rival
    before = data(db)
    attacks = [
        (None, None, 401),                                                   # no token
        (None, mint_token(scene.organiser, secret="forged-secret-of-the-right-length-32b"), 401),
        (None, mint_token(scene.organiser, audience="anon"), 401),
        (scene.member, None, 403),                                           # a member, not an organiser
        (uuid.uuid4(), None, 403),                                           # a stranger
        (rival_organiser, None, 403),                                        # organiser of another event
    ]
    for user, token, status in attacks:
        response = actions.call(_pair(scene, action), user=user, token=token)
        assert response.status_code == status, (user, token, response.get_json())
    # The rival names A's persons in the rival's own event, or pairs its person with one of A's.
    for body in (_pair(scene, action, rival_event),
                 {**_pair(scene, action, rival_event), "person_id": str(rival_person)}):
        response = actions.call(body, user=rival_organiser)
        assert response.status_code == 404 and response.get_json()["error"]["code"] == "person_not_found"
    assert data(db) == before


def test_suggestions_and_person_pages_are_for_members_only(db, scene, rival) -> None:
    persons = function_client("face_persons")
    rival_organiser, rival_event, _ = rival
    for body in ({"event_id": str(scene.event), "include_suggestions": True},
                 {"event_id": str(scene.event), "person_id": str(scene.persons["x1"])}):
        assert persons.call(body).status_code == 401
        assert persons.call(body, user=uuid.uuid4()).status_code == 403
        assert persons.call(body, user=rival_organiser).status_code == 403
    # Another event's id with this event's person: the person is not there.
    response = persons.call({"event_id": str(rival_event), "person_id": str(scene.persons["x1"])},
                            user=rival_organiser)
    assert response.status_code == 404


@pytest.mark.parametrize(("params", "field"), [
    ({"suggestions_limit": "Infinity"}, "suggestions_limit"),
    ({"suggestions_limit": "1e400"}, "suggestions_limit"),
    ({"suggestions_limit": -1}, "suggestions_limit"),
    ({"suggestions_limit": 51}, "suggestions_limit"),
    ({"suggestions_limit": True}, "suggestions_limit"),
    ({"include_suggestions": "maybe"}, "include_suggestions"),
    ({"person_id": "x1\u0000"}, "person_id"),
    ({"person_id": ["x1"]}, "person_id"),
    ({"person_id": "00000000-0000-0000-0000-000000000000", "offset": "-Infinity"}, "offset"),
])
def test_hostile_parameters_get_a_400_naming_the_field(db, scene, params: dict, field: str) -> None:
    persons = function_client("face_persons")
    before = data(db)
    response = persons.call({"event_id": str(scene.event), "include_suggestions": True, **params}, user=scene.member)
    assert response.status_code == 400 and response.get_json()["error"]["field"] == field
    assert data(db) == before


@pytest.mark.parametrize("other", ["\ud800", {"id": "x"}, 12, ""])
def test_hostile_pairs_get_a_400(db, scene, other) -> None:
    actions = function_client("face_person_actions")
    before = data(db)
    response = actions.call({**_pair(scene, "reject_suggestion"), "other_person_id": other}, user=scene.organiser)
    assert response.status_code == 400 and response.get_json()["error"]["field"] == "other_person_id"
    assert data(db) == before


def test_nobody_but_the_event_organiser_adds_a_face_to_its_photos(db, scene, rival) -> None:
    """Refused before any photo is fetched: the role, then the media's event, decide."""
    actions = function_client("face_person_actions")
    rival_organiser, rival_event, rival_person = rival
    media = db.execute("select media_id from faces where person_id = %s limit 1",
                       (scene.persons["w"],)).fetchone()["media_id"]
    body = {"action": "add_face", "event_id": str(scene.event), "media_id": str(media), "box": [1, 1, 90, 90]}
    before = data(db)
    assert actions.call(body).status_code == 401
    for user in (scene.member, uuid.uuid4(), rival_organiser):
        assert actions.call(body, user=user).status_code == 403
    stolen = actions.call({**body, "event_id": str(rival_event), "person_id": str(rival_person)},
                          user=rival_organiser)
    assert stolen.status_code == 404 and stolen.get_json()["error"]["code"] == "media_not_found"
    assert data(db) == before


@pytest.mark.parametrize("storage_path", ["file:///etc/passwd", "http://127.0.0.1:1/x.jpg", "https://169.254.169.254/",
                                          "../../etc/passwd", "gs://another-bucket/x.jpg"])
def test_add_face_fetches_only_what_the_worker_may(db, scene, storage_path: str) -> None:
    """The photo comes from the media row under the detection worker's location rules, and nothing read is echoed."""
    media = make_media(db, scene.event, storage_path=storage_path)
    before = data(db)
    response = function_client("face_person_actions").call(
        {"action": "add_face", "event_id": str(scene.event), "media_id": str(media), "box": [1, 1, 90, 90]},
        user=scene.organiser)
    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert (error["code"], error["field"]) == ("image_unusable", "media_id") and "root:" not in error["message"]
    assert data(db) == before
