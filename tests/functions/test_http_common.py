"""What every user-facing endpoint shares: tokens (HS256 and JWKS), errors, CORS, roles, rate limits."""

from __future__ import annotations

import http.server
import json
import threading
import time
import uuid
from collections.abc import Iterator

import jwt
import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.functions.conftest import APP_ORIGIN, function_client, mint_token
from tests.functions.world import build_world


def _error(response) -> dict:
    return response.get_json()["error"]


def test_missing_malformed_expired_and_wrongly_signed_tokens_are_401(persons_api, world) -> None:
    query = {"event_id": str(world.event)}
    cases = {
        "missing_token": None,
        "invalid_token": "not-a-jwt",
        "token_expired": mint_token(world.alice, expires_in=-60),
    }
    for code, token in cases.items():
        response = persons_api.call(method="GET", query=query, token=token)
        assert response.status_code == 401, code
        assert _error(response)["code"] == code
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    for token in (mint_token(world.alice, secret="another-secret-of-sufficient-length!!"),
                  mint_token(world.alice, audience="anon"),
                  jwt.encode({"sub": str(world.alice), "aud": "authenticated", "exp": time.time() + 60}, None,
                             algorithm="none"),
                  mint_token("not-a-uuid")):
        response = persons_api.call(method="GET", query=query, token=token)
        assert response.status_code == 401 and _error(response)["code"] == "invalid_token"


@pytest.fixture
def jwks_server() -> Iterator[tuple[str, rsa.RSAPrivateKey]]:
    """A JWKS endpoint on loopback publishing one RSA key, as Supabase's signing keys are published."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = {**jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True), "kid": "key-1", "alg": "RS256",
           "use": "sig"}
    body = json.dumps({"keys": [jwk]}).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/auth/v1/.well-known/jwks.json", key
    server.shutdown()
    server.server_close()


def test_asymmetric_tokens_are_verified_with_the_jwks(db, api_env, monkeypatch, jwks_server) -> None:
    url, key = jwks_server
    monkeypatch.setenv("SUPABASE_JWKS_URL", url)
    world = build_world(db)
    api = function_client("face_persons")
    claims = {"sub": str(world.alice), "aud": "authenticated", "exp": int(time.time()) + 600}
    good = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "key-1"})
    assert api.call(method="GET", query={"event_id": str(world.event)}, token=good).status_code == 200
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(claims, other_key, algorithm="RS256", headers={"kid": "key-1"})
    unknown_kid = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "key-2"})
    for token in (forged, unknown_kid):
        response = api.call(method="GET", query={"event_id": str(world.event)}, token=token)
        assert response.status_code == 401 and _error(response)["code"] == "invalid_token"


def test_an_unreachable_jwks_is_503_not_401(db, api_env, monkeypatch) -> None:
    monkeypatch.setenv("SUPABASE_JWKS_URL", "http://127.0.0.1:9/jwks.json")  # discard port: nothing listens
    world = build_world(db)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode({"sub": str(world.alice), "aud": "authenticated", "exp": int(time.time()) + 600}, key,
                       algorithm="RS256", headers={"kid": "key-1"})
    response = function_client("face_persons").call(method="GET", query={"event_id": str(world.event)}, token=token)
    assert response.status_code == 503 and response.headers["Retry-After"]


def test_roles_outsiders_get_403_unknown_events_404(persons_api, actions_api, world) -> None:
    response = persons_api.call(method="GET", query={"event_id": str(world.event)}, user=world.outsider)
    assert response.status_code == 403 and _error(response)["code"] == "forbidden"
    response = persons_api.call(method="GET", query={"event_id": str(uuid.uuid4())}, user=world.alice)
    assert response.status_code == 404 and _error(response)["field"] == "event_id"
    # Members may list but not change.
    response = actions_api.call({"action": "rename", "event_id": str(world.event),
                                 "person_id": str(world.persons["big"]), "display_name": "x"}, user=world.alice)
    assert response.status_code == 403


def test_bad_requests_name_the_field(persons_api, actions_api, world) -> None:
    cases = [
        (persons_api, "GET", None, {"event_id": "nope"}, "event_id"),
        (persons_api, "GET", None, {"event_id": str(world.event), "limit": "0"}, "limit"),
        (actions_api, "POST", {"event_id": str(world.event), "action": "fly"}, None, "action"),
        (actions_api, "POST", {"action": "merge", "event_id": str(world.event),
                               "person_id": str(world.persons["big"])}, None, "into_person_id"),
    ]
    for api, method, body, query, field in cases:
        response = api.call(body, method=method, query=query, user=world.organiser)
        assert response.status_code == 400, field
        assert _error(response) == {"code": "invalid_request", "field": field, "message": _error(response)["message"]}
    raw = actions_api.client.post("/", data=b"{not json", content_type="application/json",
                                  headers={"Authorization": f"Bearer {mint_token(world.organiser)}"})
    assert raw.status_code == 400 and raw.get_json()["error"]["field"] == "body"
    assert actions_api.call(method="GET", user=world.organiser).status_code == 405


def test_cors_preflight_and_allowed_origins(persons_api, world) -> None:
    preflight = persons_api.client.options("/", headers={"Origin": APP_ORIGIN,
                                                         "Access-Control-Request-Method": "POST",
                                                         "Access-Control-Request-Headers": "authorization"})
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert "authorization" in preflight.headers["Access-Control-Allow-Headers"]
    response = persons_api.call(method="GET", query={"event_id": str(world.event)}, user=world.alice,
                                headers={"Origin": APP_ORIGIN})
    assert response.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    # Errors carry CORS headers too, or the browser would hide them from the app.
    denied = persons_api.call(method="GET", query={"event_id": str(world.event)}, headers={"Origin": APP_ORIGIN})
    assert denied.status_code == 401 and denied.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    evil = persons_api.client.options("/", headers={"Origin": "https://evil.example",
                                                    "Access-Control-Request-Method": "POST"})
    assert evil.status_code == 403 and "Access-Control-Allow-Origin" not in evil.headers


def test_rate_limit_is_per_user_and_endpoint_and_shared_by_instances(db, api_env, monkeypatch) -> None:
    monkeypatch.setenv("RATE_LIMIT_PER_MINUTE", "3")
    world = build_world(db)
    # Two separately created apps stand for two instances: the count is in Postgres, not in either.
    instances = [function_client("face_persons"), function_client("face_persons")]
    query = {"event_id": str(world.event)}
    statuses = [instances[i % 2].call(method="GET", query=query, user=world.alice).status_code for i in range(4)]
    if 429 not in statuses:  # the minute turned over in between and the window restarted: one more round
        statuses = [instances[i % 2].call(method="GET", query=query, user=world.alice).status_code
                    for i in range(4)]
    assert 429 in statuses
    refused = instances[0].call(method="GET", query=query, user=world.alice)
    assert refused.status_code == 429 and _error(refused)["code"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    # Another user, and the same user on another endpoint, have their own allowance.
    assert instances[1].call(method="GET", query=query, user=world.bob).status_code == 200
    actions = function_client("face_person_actions")
    renamed = actions.call({"action": "rename", "event_id": str(world.event), "person_id": str(world.persons["big"]),
                            "display_name": "Big"}, user=world.organiser)
    assert renamed.status_code == 200
    assert db.execute("select count(*) as n from api_rate_limits").fetchone()["n"] >= 3


def test_clients_cannot_touch_the_rate_limit_counter(db, api_env) -> None:
    """The counter is backend-only: the API roles can neither call the function nor read the table."""
    for statement in ("select * from api_rate_limit_hit('x', 'y', 60)", "select * from api_rate_limits"):
        with db.transaction(force_rollback=True):
            db.execute("set local role authenticated")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                db.execute(statement)
