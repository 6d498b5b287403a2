"""Who is calling: Supabase users by their access token, workers and the database by shared secrets.

User tokens are verified locally, without a round trip to Supabase Auth: HS256 tokens with
the project's JWT secret, asymmetric ones (projects using signing keys) with the public keys
of ``SUPABASE_JWKS_URL``. Expiry, audience and a UUID subject are required. The algorithm is
taken from an allow-list, never from the token alone, so ``none`` or an HS256 token signed
with a public key is refused.
"""

from __future__ import annotations

import functools
import hmac
import uuid
from dataclasses import dataclass
from typing import Any, Protocol

import flask
import jwt

from shared.api.http import ApiError
from shared.settings import Settings

MEDIA_WEBHOOK_HEADER = "X-Webhook-Secret"
ASYMMETRIC_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"})


@dataclass(frozen=True)
class AuthenticatedUser:
    user_id: uuid.UUID
    claims: dict[str, Any]


def unauthorized(message: str, code: str = "invalid_token") -> ApiError:
    return ApiError(401, code, message, headers={"WWW-Authenticate": 'Bearer realm="facecluster"'})


class HasHeaders(Protocol):
    """A request of any server: Flask's, or :mod:`http.server`'s handler (the demo's review server)."""

    @property
    def headers(self) -> Any: ...


def bearer_token(request: HasHeaders) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


class TokenVerifier:
    """Verifies user access tokens; ``jwks_client`` may be injected (else built from the URL)."""

    def __init__(self, settings: Settings, jwks_client: jwt.PyJWKClient | None = None) -> None:
        self._secret = settings.supabase_jwt_secret
        self._audience = settings.jwt_audience
        self._jwks_client = jwks_client or (
            jwt.PyJWKClient(settings.supabase_jwks_url, cache_keys=True, lifespan=600, timeout=10)
            if settings.supabase_jwks_url else None)

    def verify(self, token: str) -> AuthenticatedUser:
        try:
            algorithm = jwt.get_unverified_header(token).get("alg")
        except jwt.InvalidTokenError:
            raise unauthorized("the access token is malformed") from None
        key: Any
        if algorithm == "HS256" and self._secret:
            key = self._secret
        elif algorithm in ASYMMETRIC_ALGORITHMS and self._jwks_client is not None:
            try:
                key = self._jwks_client.get_signing_key_from_jwt(token).key
            except jwt.PyJWKClientConnectionError as exc:  # our problem, not the token's: retry later
                raise ApiError(503, "unavailable", f"cannot fetch the signing keys: {exc}",
                               headers={"Retry-After": "5"}) from None
            except jwt.PyJWKClientError as exc:
                raise unauthorized(f"no signing key for this token: {exc}") from None
        else:
            raise unauthorized(f"tokens signed with {algorithm!r} are not accepted")
        try:
            claims = jwt.decode(token, key, algorithms=[algorithm], audience=self._audience,
                                options={"require": ["exp", "sub", "aud"]})
        except jwt.ExpiredSignatureError:
            raise unauthorized("the access token has expired", "token_expired") from None
        except jwt.InvalidTokenError as exc:
            raise unauthorized(f"the access token is invalid: {exc}") from None
        try:
            return AuthenticatedUser(uuid.UUID(str(claims["sub"])), claims)
        except ValueError:
            raise unauthorized("the access token's subject is not a user id") from None


@functools.cache
def _verifier_for(settings: Settings) -> TokenVerifier:
    return TokenVerifier(settings)


def authenticate_user(request: flask.Request, settings: Settings) -> AuthenticatedUser:
    """The signed-in user of the request, or a 401."""
    token = bearer_token(request)
    if token is None:
        raise unauthorized("missing `Authorization: Bearer <access token>`", "missing_token")
    return _verifier_for(settings).verify(token)


def _require_secret(presented: str, expected: str | None, variable: str, what: str) -> None:
    """Compare in constant time, so the answer's timing tells nothing about how much of a guess matched."""
    if not expected:
        raise ApiError(503, "not_configured", f"{variable} is not set on this function")
    if not hmac.compare_digest(presented.encode(), expected.encode()):
        raise unauthorized(f"wrong or missing {what}", "invalid_secret")


def authenticate_worker(request: flask.Request, settings: Settings) -> None:
    """Check the callback secret (Bearer or ``X-Callback-Secret``), or raise 401."""
    presented = bearer_token(request) or request.headers.get("X-Callback-Secret", "")
    _require_secret(presented, settings.callback_secret, "CALLBACK_SECRET", "callback secret")


def authenticate_media_webhook(request: flask.Request, settings: Settings) -> None:
    """Check the database webhook's secret (``X-Webhook-Secret``, from Supabase Vault), or raise 401.

    Its own secret rather than the workers': the database holds it, and it grants only a nudge.
    """
    presented = request.headers.get(MEDIA_WEBHOOK_HEADER, "")
    _require_secret(presented, settings.media_webhook_secret, "MEDIA_WEBHOOK_SECRET", "webhook secret")
