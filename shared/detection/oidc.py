"""Verify the OIDC token Pub/Sub attaches to authenticated push requests.

A push subscription with an OIDC service account sends ``Authorization: Bearer <JWT>``,
signed by Google (RS256), with ``aud`` = the configured audience and ``email`` = the push
service account. Verification uses ``google-auth`` against public certificates from a
:data:`CertsSource`: Google's published certificates in production, a local key in tests.

Outcomes: no token, a bad signature, an expired token or a foreign issuer → 401 (who are
you?); a valid Google token for another audience or another account → 403 (not for you).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import requests
from google.auth import jwt

from shared.settings import Settings

GOOGLE_ISSUERS = ("https://accounts.google.com", "accounts.google.com")
CLOCK_SKEW_SECONDS = 30

# key id → PEM public key or X.509 certificate, as Google's certs endpoint answers.
CertsSource = Callable[[], Mapping[str, str]]


class PushAuthError(Exception):
    """The request may not push here; ``status`` is 401 or 403."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class CertsUnavailableError(Exception):
    """The public certificates could not be fetched, so no token can be checked now (retry)."""


class HttpCertsSource:
    """Certificates from a URL (Google's ``oauth2/v1/certs``), cached as its Cache-Control allows."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url
        self.timeout = timeout
        self._lock = threading.Lock()
        self._certs: Mapping[str, str] = {}
        self._expires = 0.0

    def __call__(self) -> Mapping[str, str]:
        with self._lock:
            if time.monotonic() >= self._expires:
                try:
                    response = requests.get(self.url, timeout=self.timeout)
                    response.raise_for_status()
                    self._certs = response.json()
                except (requests.RequestException, ValueError) as exc:
                    raise CertsUnavailableError(f"cannot fetch push token certificates from {self.url}: {exc}") from exc
                self._expires = time.monotonic() + _max_age(response.headers.get("Cache-Control", ""))
            return self._certs


def _max_age(cache_control: str) -> float:
    for directive in cache_control.split(","):
        name, _, value = directive.strip().partition("=")
        if name.lower() == "max-age" and value.isdigit():
            return float(value)
    return 300.0


@dataclass(frozen=True)
class PushTokenVerifier:
    audience: str
    service_account: str | None
    certs: CertsSource

    def verify(self, authorization: str | None) -> dict[str, Any]:
        """The token's claims, or :class:`PushAuthError` saying why the request is refused."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise PushAuthError(401, "missing 'Authorization: Bearer <OIDC token>' header")
        try:
            claims = jwt.decode(token.strip(), certs=self.certs(), audience=None,
                                clock_skew_in_seconds=CLOCK_SKEW_SECONDS)
        except ValueError as exc:  # google-auth's MalformedError/InvalidValue: signature, expiry, format
            raise PushAuthError(401, f"invalid push token: {exc}") from None
        if claims.get("iss") not in GOOGLE_ISSUERS:
            raise PushAuthError(401, f"push token issuer {claims.get('iss')!r} is not Google")
        if claims.get("aud") != self.audience:
            raise PushAuthError(403, f"push token audience {claims.get('aud')!r} is not {self.audience!r}")
        verified_email = claims.get("email") if claims.get("email_verified") is True else None
        if self.service_account is not None and verified_email != self.service_account:
            raise PushAuthError(403, f"push token is for {claims.get('email')!r}, "
                                     f"not the verified account {self.service_account!r}")
        return claims


_default_sources: dict[str, HttpCertsSource] = {}
_sources_lock = threading.Lock()


def verifier_from_settings(settings: Settings, certs: CertsSource | None = None) -> PushTokenVerifier | None:
    """The verifier the settings ask for; None when ``PUSH_AUTH_AUDIENCE`` is unset (local use).

    Without an explicit ``certs``, one cached :class:`HttpCertsSource` per URL is shared by all
    requests, so certificates are fetched once per expiry, not per request.
    """
    if not settings.push_auth_audience:
        return None
    if certs is None:
        with _sources_lock:
            certs = _default_sources.setdefault(settings.push_auth_certs_url,
                                                HttpCertsSource(settings.push_auth_certs_url))
    return PushTokenVerifier(settings.push_auth_audience, settings.push_auth_service_account, certs)
