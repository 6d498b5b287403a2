"""The common path of the user-facing endpoints: CORS and errors, then token, then rate limit."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import flask

from shared.api.auth import AuthenticatedUser, authenticate_user
from shared.api.http import MAX_BODY_BYTES, request_params, serve
from shared.api.ratelimit import enforce_rate_limit
from shared.log import log_context
from shared.settings import get_settings

UserHandler = Callable[[AuthenticatedUser, dict[str, Any]], tuple[Any, int]]


def serve_user_request(request: flask.Request, endpoint: str, methods: Iterable[str], handler: UserHandler,
                       read_params: Callable[[flask.Request], dict[str, Any]] = request_params,
                       max_body: int = MAX_BODY_BYTES) -> flask.Response:
    """Authenticate the user, count the request against their limit, then run ``handler(user, params)``."""
    def authenticated(req: flask.Request) -> tuple[Any, int]:
        settings = get_settings()
        user = authenticate_user(req, settings)
        with log_context(user_id=user.user_id, endpoint=endpoint):
            enforce_rate_limit(str(user.user_id), endpoint, settings)
            return handler(user, read_params(req))
    return serve(request, tuple(methods), authenticated, max_body)
