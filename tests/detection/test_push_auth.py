"""Unwrapping push deliveries and verifying their OIDC tokens (tokens minted with a local key)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import psycopg
import pytest
from flask.testing import FlaskClient

from shared.detection.oidc import PushAuthError, PushTokenVerifier
from shared.detection.push import EnvelopeError, parse_push_request
from tests.detection.conftest import job_row, make_detect_job
from tests.support.oidc import OidcSigner
from tests.support.supabase_storage import SupabaseStorageStandIn

AUDIENCE = "https://face-detect-abc123-ew.a.run.app/"
PUSHER = "pubsub-push@facecluster-test.iam.gserviceaccount.com"


def test_push_envelope_is_unwrapped() -> None:
    body = {"message": {"data": base64.b64encode(b'{"a": 1}').decode(), "attributes": {"k": "v"},
                        "messageId": "42", "publishTime": "2026-11-24T10:00:00.123456789Z"},
            "subscription": "projects/p/subscriptions/s", "deliveryAttempt": 3}
    message = parse_push_request(body, {})
    assert message.data == b'{"a": 1}' and message.attributes == {"k": "v"} and message.message_id == "42"
    assert message.publish_time == datetime(2026, 11, 24, 10, 0, 0, 123456, tzinfo=UTC)
    assert message.subscription == "projects/p/subscriptions/s" and message.delivery_attempt == 3


def test_storage_notification_without_data_is_unwrapped() -> None:
    body = {"message": {"attributes": {"eventType": "OBJECT_FINALIZE", "bucketId": "b", "objectId": "o.jpg",
                                       "payloadFormat": "NONE"}, "messageId": "7"}}
    message = parse_push_request(body, {})
    assert message.data == b"" and message.attributes["objectId"] == "o.jpg"


@pytest.mark.parametrize(("body", "headers", "complaint"), [
    ({"message": "text"}, {}, "no 'message' object"),
    ({"message": {"data": 5}}, {}, "base64 string"),
    ({"message": {"attributes": {"n": 1}}}, {}, "object of strings"),
    ({"specversion": "1.0", "type": "google.cloud.pubsub.topic.v1.messagePublished", "data": "x"}, {},
     "CloudEvent data must be"),
    ({"message": {}}, {"ce-type": "google.cloud.audit.log.v1.written"}, "is not google.cloud.pubsub"),
])
def test_malformed_envelopes_say_what_is_wrong(body: object, headers: dict, complaint: str) -> None:
    with pytest.raises(EnvelopeError, match=complaint):
        parse_push_request(body, headers)


# Verification with an injected key source ----------------------------------------------------

@pytest.fixture
def verifier(oidc_signer: OidcSigner) -> PushTokenVerifier:
    return PushTokenVerifier(AUDIENCE, PUSHER, certs=oidc_signer.certs)


def test_valid_token_is_accepted(verifier: PushTokenVerifier, oidc_signer: OidcSigner) -> None:
    claims = verifier.verify(f"Bearer {oidc_signer.mint(AUDIENCE, PUSHER)}")
    assert claims["email"] == PUSHER and claims["aud"] == AUDIENCE


@pytest.mark.parametrize(("token_kwargs", "status", "complaint"), [
    (None, 401, "missing"),
    ({"forged": True}, 401, "invalid push token"),
    ({"lifetime": -3600}, 401, "invalid push token"),
    ({"issuer": "https://evil.example"}, 401, "not Google"),
    ({"audience": "https://another-service.run.app/"}, 403, "audience"),
    ({"email": "someone-else@facecluster-test.iam.gserviceaccount.com"}, 403, "not the verified account"),
    ({"email_verified": False}, 403, "not the verified account"),
])
def test_bad_tokens_are_refused(verifier: PushTokenVerifier, oidc_signer: OidcSigner, token_kwargs: dict | None,
                                status: int, complaint: str) -> None:
    header = None
    if token_kwargs is not None:
        kwargs = {"audience": AUDIENCE, "email": PUSHER, **token_kwargs}
        header = f"Bearer {oidc_signer.mint(kwargs.pop('audience'), kwargs.pop('email'), **kwargs)}"
    with pytest.raises(PushAuthError, match=complaint) as caught:
        verifier.verify(header)
    assert caught.value.status == status


def test_garbage_authorization_is_refused(verifier: PushTokenVerifier) -> None:
    for header in ("Basic dXNlcjpwYXNz", "Bearer not.a.jwt", "Bearer "):
        with pytest.raises(PushAuthError) as caught:
            verifier.verify(header)
        assert caught.value.status == 401


# Through the service, with the certificates fetched over HTTP as in production ----------------

@pytest.fixture
def authenticated(client: FlaskClient, oidc_signer: OidcSigner, monkeypatch: pytest.MonkeyPatch) -> FlaskClient:
    monkeypatch.setenv("PUSH_AUTH_AUDIENCE", AUDIENCE)
    monkeypatch.setenv("PUSH_AUTH_SERVICE_ACCOUNT", PUSHER)
    monkeypatch.setenv("PUSH_AUTH_CERTS_URL", oidc_signer.certs_url)
    return client


def test_service_processes_only_authenticated_pushes(authenticated: FlaskClient, oidc_signer: OidcSigner,
                                                     db: psycopg.Connection, group_photo: bytes,
                                                     supabase_storage: SupabaseStorageStandIn) -> None:
    supabase_storage.put("event-media", "a.jpg", group_photo)
    case = make_detect_job(db, "storage://event-media/a.jpg")

    missing = authenticated.post("/", json=case.envelope)
    wrong_audience = authenticated.post("/", json=case.envelope, headers={
        "Authorization": f"Bearer {oidc_signer.mint('https://elsewhere.run.app/', PUSHER)}"})
    forged = authenticated.post("/", json=case.envelope, headers={
        "Authorization": f"Bearer {oidc_signer.mint(AUDIENCE, PUSHER, forged=True)}"})
    assert (missing.status_code, wrong_audience.status_code, forged.status_code) == (401, 403, 401)
    assert job_row(db, case.job_id)["attempts"] == 0 and supabase_storage.downloads == 0

    valid = authenticated.post("/", json=case.envelope, headers={
        "Authorization": f"Bearer {oidc_signer.mint(AUDIENCE, PUSHER)}"})
    assert valid.status_code == 200 and valid.get_json()["status"] == "completed"


def test_health_needs_no_token(authenticated: FlaskClient) -> None:
    assert authenticated.get("/health").status_code == 200
