"""JSON errors, CORS and request parsing shared by every endpoint.

Every failure a client can cause is an :class:`ApiError` carrying its status, a stable
machine-readable ``code`` and, for a bad request, the ``field`` that is wrong; :func:`serve`
turns it into ``{"error": {"code", "message", "field"?}}``. Anything else becomes a 500 whose
details go to the log, not to the client.

Hostile input is stopped here, once for every endpoint (the detection service reads its push
body through :func:`read_json_body` too): a body over :data:`MAX_BODY_BYTES` is a 413 before
it is read whole, JSON is parsed by :func:`shared.untrusted_json.loads_untrusted` (depth
bounded before parsing, no NUL or lone surrogate in any string), and numbers are accepted only
as finite integers in range (:func:`int_param`).
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import flask
import psycopg
from werkzeug.exceptions import RequestEntityTooLarge

from shared.db.connection import DatabaseUnavailableError
from shared.settings import Settings
from shared.untrusted_json import UntrustedJsonError, check_strings, loads_untrusted

logger = logging.getLogger(__name__)

# supabase-js sends `apikey` and `x-client-info` with every call.
ALLOWED_HEADERS = "authorization, content-type, apikey, x-client-info, x-callback-secret"
PREFLIGHT_MAX_AGE = "3600"
# The largest request any endpoint needs is ml-enqueue with 5000 media ids (~200 kB); a Pub/Sub
# push of a detection message or a storage notification is a few kB.
MAX_BODY_BYTES = 1024 * 1024
# A query-string integer: ASCII digits only (int() would also take "١٢" and "1_000").
_INTEGER_TEXT = re.compile(r"[+-]?[0-9]{1,18}")


class ApiError(Exception):
    """A failure to report to the client as JSON with this status."""

    def __init__(self, status: int, code: str, message: str, *, field: str | None = None,
                 headers: dict[str, str] | None = None, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers or {}
        self.details = details or {}  # more the client can act on (e.g. the faces to crop to)

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message, **self.details}
        if self.field is not None:
            error["field"] = self.field
        return {"error": error}


def invalid(field: str, message: str) -> ApiError:
    """400 naming the request field that is wrong."""
    return ApiError(400, "invalid_request", f"{field}: {message}", field=field)


class QueryText(str):
    """A query-string value: always text, so ``int_param`` may read digits in it as a number.

    A JSON body has real numbers; there a string (``"10"``) where a number belongs is refused.
    """


def too_large(limit: int = MAX_BODY_BYTES) -> ApiError:
    return ApiError(413, "body_too_large", f"the request body is over {limit} bytes")


def refuse_declared_oversize(request: flask.Request, limit: int = MAX_BODY_BYTES) -> None:
    """413 for a ``Content-Length`` over the limit, before a byte of the body is read."""
    if request.content_length is not None and request.content_length > limit:
        raise too_large(limit)


def read_body(request: flask.Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The request's body, read at most ``limit`` far.

    A declared ``Content-Length`` over the limit is refused before anything is read; a body
    without one (chunked) is read one byte past the limit at most: werkzeug stops a stream at
    its maximum without saying so, so the extra byte is what tells a body over the limit.
    """
    refuse_declared_oversize(request, limit)
    request.max_content_length = limit + 1
    try:
        raw = request.get_data(cache=True)
    except RequestEntityTooLarge:
        raise too_large(limit) from None
    if len(raw) > limit:
        raise too_large(limit)
    return raw


def read_json_body(request: flask.Request) -> Any | None:
    """The request's JSON body (None when empty), read at most :data:`MAX_BODY_BYTES` far."""
    raw = read_body(request)
    if not raw:
        return None
    try:
        return loads_untrusted(raw)
    except UntrustedJsonError as exc:
        raise invalid(exc.field, exc.message) from None


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


def serve(request: flask.Request, settings: Settings, methods: Iterable[str],
          handler: Callable[[flask.Request, Settings], tuple[Any, int]],
          max_body: int = MAX_BODY_BYTES) -> flask.Response:
    """Answer a preflight, check the method, run ``handler`` and render its result or error as JSON.

    ``max_body``: the largest body the endpoint takes (only the selfie upload takes more than JSON needs).
    """
    cors = cors_headers(request, settings)
    allowed_methods = ", ".join([*methods, "OPTIONS"])
    if request.method == "OPTIONS":
        if request.headers.get("Origin") and not cors:
            return json_response(ApiError(403, "origin_not_allowed", "this origin may not call the API").body(), 403)
        return flask.Response(status=204, headers={
            **cors, "Access-Control-Allow-Methods": allowed_methods,
            "Access-Control-Allow-Headers": ALLOWED_HEADERS, "Access-Control-Max-Age": PREFLIGHT_MAX_AGE})
    try:
        refuse_declared_oversize(request, max_body)   # before authentication: nothing of such a body gets read
        if request.method not in methods:
            raise ApiError(405, "method_not_allowed", f"use {' or '.join(methods)}",
                           headers={"Allow": allowed_methods})
        body, status = handler(request, settings)
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


def query_params(request: flask.Request) -> dict[str, Any]:
    """The query parameters alone (an endpoint whose body is not JSON, like the selfie upload)."""
    params: dict[str, Any] = {key: QueryText(value) for key, value in request.args.items()}
    try:
        check_strings(params, "body")
    except UntrustedJsonError as exc:
        raise invalid(exc.field, exc.message) from None
    return params


def request_params(request: flask.Request) -> dict[str, Any]:
    """The JSON object body, merged over the query parameters (GET callers use only the latter)."""
    params = query_params(request)
    if request.method in ("POST", "PUT", "PATCH"):
        body = read_json_body(request)
        if body is not None and not isinstance(body, dict):
            raise invalid("body", "expected a JSON object")
        params.update(body or {})
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
    """A JSON integer, or digits in the query string, within ``[low, high]``.

    Anything else is a 400 naming the field: ``10.9`` is not read as 10, ``Infinity``, ``NaN``
    and ``1e400`` (which JSON parsing makes ``inf``), ``true`` and ``"10"`` are not integers.
    """
    value = params.get(name, default)
    if isinstance(value, QueryText) and _INTEGER_TEXT.fullmatch(value):
        value = int(value)
    if type(value) is not int or not low <= value <= high:
        raise invalid(name, f"expected an integer between {low} and {high}")
    return value


def choice_param(params: dict[str, Any], name: str, choices: Iterable[str], default: str | None = None) -> str:
    choices = tuple(choices)
    value = params.get(name, default)
    if value is None:
        raise invalid(name, f"required, one of {', '.join(choices)}")
    if value not in choices:
        raise invalid(name, f"expected one of {', '.join(choices)}")
    return value
