"""The common path of the user-facing endpoints: CORS and errors, then token, then rate limit."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import flask

from shared.api.auth import AuthenticatedUser, authenticate_user
from shared.api.http import MAX_BODY_BYTES, request_params, serve
from shared.api.ratelimit import enforce_rate_limit
from shared.db.connection import get_pool
from shared.log import log_context
from shared.settings import Settings

UserHandler = Callable[[AuthenticatedUser, dict[str, Any], Settings], tuple[Any, int]]


def general_rate_limit(settings: Settings) -> int:
    """The allowance of every endpoint that does not set its own."""
    return settings.rate_limit_per_minute


def serve_user_request(request: flask.Request, settings: Settings, endpoint: str, methods: Iterable[str],
                       handler: UserHandler,
                       read_params: Callable[[flask.Request], dict[str, Any]] = request_params,
                       max_body: int = MAX_BODY_BYTES,
                       rate_limit: Callable[[Settings], int] = general_rate_limit) -> flask.Response:
    """Authenticate the user, count the request against their limit, then run ``handler(user, params, settings)``.

    ``rate_limit`` picks the endpoint's requests per user and minute from the settings.
    """
    def authenticated(req: flask.Request, settings: Settings) -> tuple[Any, int]:
        user = authenticate_user(req, settings)
        with log_context(user_id=user.user_id, endpoint=endpoint):
            enforce_rate_limit(get_pool(settings), str(user.user_id), endpoint, rate_limit(settings))
            return handler(user, read_params(req), settings)
    return serve(request, settings, tuple(methods), authenticated, max_body)
