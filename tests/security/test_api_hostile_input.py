"""Hostile numbers, strings, nesting and sizes against every endpoint (issue #13, item 7; issue #15).

Through the real functions-framework apps (test clients, and real loopback servers for chunked
bodies): each request gets the precise 4xx naming the field (never a 500), its answer does
not echo the hostile value, and the database is exactly as before.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import functions_framework
import psycopg
import pytest
import requests
from flask.testing import FlaskClient

from shared.api.auth import MEDIA_WEBHOOK_HEADER
from shared.api.http import MAX_BODY_BYTES
from shared.settings import get_settings
from tests.detection.conftest import push_envelope
from tests.functions.conftest import MAIN_SOURCE, MEDIA_WEBHOOK_SECRET, FunctionClient, mint_token
from tests.functions.world import World
from tests.support.loopback import serve_wsgi

UNTOUCHED_TABLES_EXCLUDED = ("api_rate_limits", "schema_migrations")   # counters move with every request


def database_state(db: psycopg.Connection) -> dict[str, list[str]]:
    """Every row of every table in public, as JSON text (vectors and bytes compare as text)."""
    tables = [row["table_name"] for row in db.execute(
        "select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE'"
        " and table_name <> all(%s) order by 1", (list(UNTOUCHED_TABLES_EXCLUDED),))]
    return {table: [row["r"] for row in db.execute(f'select to_jsonb(t)::text as r from "{table}" t order by 1')]
            for table in tables}


@pytest.fixture
def endpoints(world: World, persons_api: FunctionClient, actions_api: FunctionClient, enqueue_api: FunctionClient,
              callback_api: FunctionClient, media_inserted_api: FunctionClient,
              client: FlaskClient) -> dict[str, FlaskClient]:
    """Every target's test client; user endpoints get the organiser's token, ml-callback and
    ml-media-inserted their secrets."""
    return {"face-persons": persons_api.client, "face-person-actions": actions_api.client,
            "ml-enqueue": enqueue_api.client, "ml-callback": callback_api.client,
            "ml-media-inserted": media_inserted_api.client, "detect-push": client}


def credentials(endpoint: str, world: World) -> dict[str, str]:
    if endpoint == "ml-callback":   # the callback recorder of the detection fixtures sets its own secret
        return {"X-Callback-Secret": get_settings().callback_secret}
    if endpoint == "ml-media-inserted":
        return {MEDIA_WEBHOOK_HEADER: MEDIA_WEBHOOK_SECRET}
    if endpoint == "detect-push":
        return {}
    return {"Authorization": f"Bearer {mint_token(world.organiser)}"}


def post_raw(clients: dict[str, FlaskClient], endpoint: str, world: World, raw: bytes) -> Any:
    return clients[endpoint].post("/", data=raw, content_type="application/json",
                                  headers=credentials(endpoint, world))


def error_of(response: Any, endpoint: str) -> str:
    body = response.get_json()
    return body["error"] if endpoint == "detect-push" else body["error"]["message"]


ENDPOINTS = ("face-persons", "face-person-actions", "ml-enqueue", "ml-callback", "ml-media-inserted", "detect-push")


# -- numbers --------------------------------------------------------------------------------------

@pytest.mark.parametrize("number", ["Infinity", "-Infinity", "NaN", "1e400", "-1e400", "10.9", "10.0", "1e2",
                                    "true", "false", '"10"', "null", "[10]", "{}", "99999999999999999999999"])
@pytest.mark.parametrize("field", ["limit", "offset", "unassigned_limit"])
def test_numbers_in_a_body_are_finite_integers_or_400(endpoints: dict[str, FlaskClient], world: World,
                                                      db: psycopg.Connection, field: str, number: str) -> None:
    before = database_state(db)
    raw = f'{{"event_id": "{world.event}", "include_unassigned": true, "{field}": {number}}}'.encode()
    response = post_raw(endpoints, "face-persons", world, raw)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.get_json()["error"]["field"] == field
    assert database_state(db) == before


@pytest.mark.parametrize("text", ["Infinity", "-Infinity", "NaN", "1e400", "10.9", "true", "١٢", "1_0", "0x10",
                                  " 10", "", "9" * 5000])
def test_numbers_in_a_query_are_digits_or_400(persons_api: FunctionClient, world: World, text: str) -> None:
    response = persons_api.call(method="GET", query={"event_id": str(world.event), "limit": text}, user=world.alice)
    assert response.status_code == 400 and response.get_json()["error"]["field"] == "limit"
    assert "9999" not in response.get_data(as_text=True)


def test_integers_in_range_still_work(persons_api: FunctionClient, world: World) -> None:
    as_query = persons_api.call(method="GET", query={"event_id": str(world.event), "limit": "2"}, user=world.alice)
    as_body = persons_api.call({"event_id": str(world.event), "limit": 2, "offset": 1}, user=world.alice)
    assert as_query.status_code == as_body.status_code == 200
    assert as_query.get_json()["limit"] == as_body.get_json()["limit"] == 2


# -- strings --------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["\\u0000", "Ann\\u0000e", "\\ud800", "a\\udc00b", "\\udfff\\ud800"])
def test_display_names_with_nul_or_lone_surrogates_are_400(endpoints: dict[str, FlaskClient], world: World,
                                                           db: psycopg.Connection, name: str) -> None:
    before = database_state(db)
    raw = (f'{{"action": "rename", "event_id": "{world.event}", "person_id": "{world.persons["big"]}", '
           f'"display_name": "{name}"}}').encode()
    response = post_raw(endpoints, "face-person-actions", world, raw)
    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == "display_name"
    assert "\x00" not in response.get_data(as_text=True)
    assert database_state(db) == before


@pytest.mark.parametrize(("raw", "field"), [
    ('{{"type": "detect", "event_id": "{event}", "media_ids": ["\\ud800"]}}', "media_ids"),
    ('{{"type": "detect\\u0000", "event_id": "{event}"}}', "type"),
    ('{{"type": "detect", "event_id": "{event}", "\\u0000": 1}}', "body"),
    ('{{"type": "detect", "event_id": "{event}", "\\ud800": 1}}', "body"),
])
def test_nul_and_lone_surrogates_anywhere_are_400(endpoints: dict[str, FlaskClient], world: World,
                                                  db: psycopg.Connection, raw: str, field: str) -> None:
    before = database_state(db)
    response = post_raw(endpoints, "ml-enqueue", world, raw.format(event=world.event).encode())
    assert response.status_code == 400 and response.get_json()["error"]["field"] == field
    assert database_state(db) == before


def test_nul_in_a_query_is_400(persons_api: FunctionClient, world: World) -> None:
    response = persons_api.client.get(f"/?event_id={world.event}%00", headers=credentials("face-persons", world))
    assert response.status_code == 400 and response.get_json()["error"]["field"] == "event_id"


def test_invalid_utf8_is_400(endpoints: dict[str, FlaskClient], world: World) -> None:
    for endpoint in ENDPOINTS:
        response = post_raw(endpoints, endpoint, world, b'{"event_id": "\xff\xfe"}')
        assert response.status_code == 400, endpoint


# -- nesting --------------------------------------------------------------------------------------

@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("raw", [b"[" * 5000 + b"]" * 5000, b'{"a":' * 3000 + b"1" + b"}" * 3000,
                                 b"[" * 100_000], ids=["arrays", "objects", "unclosed"])
def test_deep_json_is_400_on_every_endpoint(endpoints: dict[str, FlaskClient], world: World, db: psycopg.Connection,
                                            endpoint: str, raw: bytes) -> None:
    before = database_state(db)
    response = post_raw(endpoints, endpoint, world, raw)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert "nested deeper" in error_of(response, endpoint)
    assert database_state(db) == before


def _alternating(levels: int) -> str:
    """``levels`` of arrays and objects nested alternately: [{"a": [{"a": ... }]}]."""
    text = "1"
    for level in range(levels):
        text = f"[{text}]" if level % 2 == 0 else f'{{"a": {text}}}'
    return text


@pytest.mark.parametrize(("levels", "status"), [(31, 200), (32, 400)])   # + the body object: 32 and 33
def test_the_depth_bound_is_exact(persons_api: FunctionClient, world: World, levels: int, status: int) -> None:
    raw = f'{{"event_id": "{world.event}", "x": {_alternating(levels)}}}'.encode()
    response = persons_api.client.post("/", data=raw, content_type="application/json",
                                       headers=credentials("face-persons", world))
    assert response.status_code == status
    if status == 400:
        assert "nested deeper than 32" in response.get_json()["error"]["message"]


def test_brackets_inside_strings_are_not_nesting(persons_api: FunctionClient, world: World) -> None:
    raw = json.dumps({"event_id": str(world.event), "note": "[{" * 5000 + '\\"['}).encode()
    response = persons_api.client.post("/", data=raw, content_type="application/json",
                                       headers=credentials("face-persons", world))
    assert response.status_code == 200 and response.get_json()["total"] == 3


def test_deep_json_inside_a_pubsub_message_is_400(endpoints: dict[str, FlaskClient], world: World,
                                                  db: psycopg.Connection) -> None:
    before = database_state(db)
    response = endpoints["detect-push"].post("/", json=push_envelope(b"[" * 5000 + b"]" * 5000))
    assert response.status_code == 400 and "nested deeper" in response.get_json()["error"]
    assert database_state(db) == before


# -- size -----------------------------------------------------------------------------------------

def _big_body(world: World) -> bytes:
    padding = "x" * (MAX_BODY_BYTES + 1)
    return json.dumps({"event_id": str(world.event), "type": "detect", "padding": padding}).encode()


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_body_over_the_limit_is_413_on_every_endpoint(endpoints: dict[str, FlaskClient], world: World,
                                                        db: psycopg.Connection, endpoint: str) -> None:
    before = database_state(db)
    response = post_raw(endpoints, endpoint, world, _big_body(world))
    assert response.status_code == 413
    assert database_state(db) == before


TARGETS = {"face-persons": "face_persons", "face-person-actions": "face_person_actions", "ml-enqueue": "ml_enqueue",
           "ml-callback": "ml_callback", "ml-media-inserted": "media_inserted", "detect-push": "detect_push"}


@pytest.fixture
def servers(api_env: None, detect_env: object) -> Iterator[dict[str, str]]:
    """Every target as a real server on loopback (a chunked body has no Content-Length to check)."""
    with ExitStack() as stack:
        yield {endpoint: stack.enter_context(serve_wsgi(functions_framework.create_app(target=target,
                                                                                       source=MAIN_SOURCE)))
               for endpoint, target in TARGETS.items()}


def test_a_chunked_body_over_the_limit_is_413_on_every_endpoint(servers: dict[str, str], world: World,
                                                                db: psycopg.Connection) -> None:
    before = database_state(db)
    body = _big_body(world)
    for endpoint, url in servers.items():
        chunks = (body[i:i + 65536] for i in range(0, len(body), 65536))   # a generator: Transfer-Encoding: chunked
        headers = {"Content-Type": "application/json", **credentials(endpoint, world)}
        response = requests.post(url + "/", data=chunks, headers=headers, timeout=60)
        assert response.request.headers.get("Transfer-Encoding") == "chunked"
        assert response.status_code == 413, (endpoint, response.status_code, response.text[:200])
    assert database_state(db) == before


def test_a_body_at_the_limit_is_read(enqueue_api: FunctionClient, world: World) -> None:
    """The limit is not lower than a real request: 5000 media ids (the most ml-enqueue takes) pass it."""
    raw = json.dumps({"type": "detect", "event_id": str(world.event),
                      "media_ids": [str(uuid.uuid4()) for _ in range(5000)]}).encode()
    assert len(raw) < MAX_BODY_BYTES
    response = enqueue_api.client.post("/", data=raw, content_type="application/json",
                                       headers=credentials("ml-enqueue", world))
    assert response.status_code == 400 and response.get_json()["error"]["field"] == "media_ids"   # unknown ids
