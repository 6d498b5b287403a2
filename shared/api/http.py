"""JSON errors, CORS and request parsing shared by every endpoint.

Every failure a client can cause is an :class:`ApiError` carrying its status, a stable
machine-readable ``code`` and, for a bad request, the ``field`` that is wrong; :func:`serve`
turns it into ``{"error": {"code", "message", "field"?}}``. Anything else becomes a 500 whose
details go to the log, not to the client.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import flask
import psycopg

from shared.db.connection import DatabaseUnavailableError
from shared.settings import Settings, get_settings

logger = logging.getLogger(__name__)

# supabase-js sends `apikey` and `x-client-info` with every call.
ALLOWED_HEADERS = "authorization, content-type, apikey, x-client-info, x-callback-secret"
PREFLIGHT_MAX_AGE = "3600"


class ApiError(Exception):
    """A failure to report to the client as JSON with this status."""

    def __init__(self, status: int, code: str, message: str, *, field: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            error["field"] = self.field
        return {"error": error}


def invalid(field: str, message: str) -> ApiError:
    """400 naming the request field that is wrong."""
    return ApiError(400, "invalid_request", f"{field}: {message}", field=field)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> flask.Response:
    response = flask.jsonify(body)
    response.status_code = status
    response.headers.update(headers or {})
    return response


def cors_headers(request: flask.Request, settings: Settings) -> dict[str, str]:
    """``Access-Control-Allow-Origin`` for an allowed origin, nothing for others."""
    origin = request.headers.get("Origin")
    allowed = settings.cors_allowed_origins
    if "*" in allowed:
        return {"Access-Control-Allow-Origin": "*"}
    if origin and origin in allowed:
        return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
    return {}


def serve(request: flask.Request, methods: Iterable[str],
          handler: Callable[[flask.Request], tuple[Any, int]]) -> flask.Response:
    """Answer a preflight, check the method, run ``handler`` and render its result or error as JSON."""
    settings = get_settings()
    cors = cors_headers(request, settings)
    allowed_methods = ", ".join([*methods, "OPTIONS"])
    if request.method == "OPTIONS":
        if request.headers.get("Origin") and not cors:
            return json_response(ApiError(403, "origin_not_allowed", "this origin may not call the API").body(), 403)
        return flask.Response(status=204, headers={
            **cors, "Access-Control-Allow-Methods": allowed_methods,
            "Access-Control-Allow-Headers": ALLOWED_HEADERS, "Access-Control-Max-Age": PREFLIGHT_MAX_AGE})
    try:
        if request.method not in methods:
            raise ApiError(405, "method_not_allowed", f"use {' or '.join(methods)}",
                           headers={"Allow": allowed_methods})
        body, status = handler(request)
        return json_response(body, status, cors)
    except ApiError as exc:
        return json_response(exc.body(), exc.status, {**cors, **exc.headers})
    except DatabaseUnavailableError as exc:
        logger.warning("database unavailable", extra={"problem": str(exc)})
        return json_response(ApiError(503, "unavailable", "the database is unavailable, retry later").body(),
                             503, {**cors, "Retry-After": "5"})
    except (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure,
            psycopg.errors.LockNotAvailable) as exc:
        logger.info("concurrent edit", extra={"problem": str(exc)})
        return json_response(ApiError(409, "concurrent_edit",
                                      "another change to the same data happened at the same time, retry").body(),
                             409, cors)
    except Exception:
        logger.exception("unhandled error")
        return json_response(ApiError(500, "internal", "internal error").body(), 500, cors)


def request_params(request: flask.Request) -> dict[str, Any]:
    """The JSON object body, merged over the query parameters (GET callers use only the latter)."""
    params: dict[str, Any] = dict(request.args.items())
    if request.method in ("POST", "PUT", "PATCH") and request.get_data():
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise invalid("body", "expected a JSON object")
        params.update(body)
    return params


def uuid_param(params: dict[str, Any], name: str, *, required: bool = True) -> uuid.UUID | None:
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise invalid(name, "required")
        return None
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise invalid(name, f"not a UUID: {str(value)[:60]!r}") from None


def uuid_list_param(params: dict[str, Any], name: str, max_items: int) -> list[uuid.UUID] | None:
    value = params.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or not value:
        raise invalid(name, "expected a non-empty list of UUIDs")
    if len(value) > max_items:
        raise invalid(name, f"at most {max_items} items")
    try:
        return list(dict.fromkeys(uuid.UUID(str(item)) for item in value))
    except ValueError:
        raise invalid(name, "expected a list of UUIDs") from None


def bool_param(params: dict[str, Any], name: str, default: bool = False) -> bool:
    value = params.get(name, default)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "1", "yes", "false", "0", "no"):
        return value.lower() in ("true", "1", "yes")
    raise invalid(name, "expected true or false")


def int_param(params: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = params.get(name, default)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise invalid(name, "expected an integer") from None
    if isinstance(value, bool) or not low <= number <= high:
        raise invalid(name, f"expected an integer between {low} and {high}")
    return number


def choice_param(params: dict[str, Any], name: str, choices: Iterable[str], default: str | None = None) -> str:
    choices = tuple(choices)
    value = params.get(name, default)
    if value is None:
        raise invalid(name, f"required, one of {', '.join(choices)}")
    if value not in choices:
        raise invalid(name, f"expected one of {', '.join(choices)}")
    return value
