"""Mint Google-style OIDC tokens (RS256) with a local key, and serve its public certificate.

Stands in for Google's token service and certs endpoint in tests of authenticated Pub/Sub
push: ``PUSH_AUTH_CERTS_URL`` points at the local certs, and :meth:`OidcSigner.mint` makes
tokens as Pub/Sub would attach them (or wrong in one chosen way).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import flask
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support.loopback import serve_wsgi

GOOGLE_ISSUER = "https://accounts.google.com"


def _private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _public_pem(key: rsa.RSAPrivateKey) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


class OidcSigner:
    def __init__(self) -> None:
        self.kid = "stand-in-key-1"
        self.key = _private_key()
        self.foreign_key = _private_key()   # a key nobody published: tokens signed with it are forged
        self.certs_url = ""

    def certs(self) -> dict[str, str]:
        """What Google's certs endpoint answers: key id → PEM."""
        return {self.kid: _public_pem(self.key)}

    def mint(self, audience: str, email: str, *, issuer: str = GOOGLE_ISSUER, lifetime: int = 3600,
             email_verified: bool = True, forged: bool = False, **claims: Any) -> str:
        now = int(time.time())
        payload = {"iss": issuer, "aud": audience, "email": email, "email_verified": email_verified,
                   "sub": "1234567890", "iat": now - 5, "exp": now + lifetime, **claims}
        key = self.foreign_key if forged else self.key
        return jwt.encode(payload, key, algorithm="RS256", headers={"kid": self.kid})


@pytest.fixture(scope="session")
def oidc_signer() -> Iterator[OidcSigner]:
    """A signer whose certificates are served on loopback at ``signer.certs_url``."""
    signer = OidcSigner()
    app = flask.Flask("google-certs-stand-in")
    app.add_url_rule("/certs", "certs", lambda: (signer.certs(), 200, {"Cache-Control": "max-age=300"}))
    with serve_wsgi(app) as url:
        signer.certs_url = f"{url}/certs"
        yield signer
