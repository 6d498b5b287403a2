"""User access tokens as Supabase issues them, signed with the local stack's own JWT secret."""

from __future__ import annotations

import time
import uuid

import jwt


def mint_user_token(secret: str, user_id: uuid.UUID, *, audience: str = "authenticated",
                    ttl_seconds: int = 12 * 3600) -> str:
    """An HS256 access token for ``user_id`` with the claims the functions check."""
    now = int(time.time())
    claims = {"sub": str(user_id), "role": "authenticated", "aud": audience, "iat": now, "exp": now + ttl_seconds}
    return jwt.encode(claims, secret, algorithm="HS256")
