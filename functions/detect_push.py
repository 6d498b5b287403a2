"""HTTP target ``detect_push``: the detection service behind a Pub/Sub push subscription.

``GET /health`` reports readiness; ``POST /`` takes one push delivery (push envelope or
CloudEvent). The work happens in :mod:`shared.detection`; this layer only authenticates,
unwraps and maps the outcome to the status code Pub/Sub's retries follow:

    ACK → 200 (done, or failed for good)   REJECT → 400 (malformed)
    RETRY → 503 (transient)                ERROR → 500 (unexpected)
"""

import flask
import functions_framework

from shared.api.http import ApiError, read_json_body
from shared.detection.dispatch import handle_message
from shared.detection.health import health_report
from shared.detection.oidc import CertsUnavailableError, PushAuthError, verifier_from_settings
from shared.detection.outcome import Disposition
from shared.detection.push import EnvelopeError, parse_push_request
from shared.log import configure_logging
from shared.settings import get_settings

configure_logging(get_settings().log_level)

STATUS_CODES = {Disposition.ACK: 200, Disposition.REJECT: 400, Disposition.RETRY: 503, Disposition.ERROR: 500}


@functions_framework.http
def detect_push(request: flask.Request) -> tuple[dict, int]:
    settings = get_settings()
    if request.path.rstrip("/") == "/health":
        if request.method != "GET":
            return {"error": "use GET /health"}, 405
        return health_report(settings), 200
    if request.method != "POST" or request.path.rstrip("/") != "":
        return {"error": "POST a Pub/Sub push delivery to /, or GET /health"}, 405 if request.path == "/" else 404
    verifier = verifier_from_settings(settings)
    if verifier is not None:
        try:
            verifier.verify(request.headers.get("Authorization"))
        except PushAuthError as exc:
            return {"status": "unauthorized", "error": str(exc)}, exc.status
        except CertsUnavailableError as exc:
            return {"status": "retry", "error": str(exc)}, 503
    try:
        message = parse_push_request(read_json_body(request), request.headers)
    except ApiError as exc:   # too large (413), or not acceptable JSON (400): the shared HTTP layer's limits
        return {"status": "rejected", "error": exc.message}, exc.status
    except EnvelopeError as exc:
        return {"status": "rejected", "error": str(exc)}, 400
    result = handle_message(message, settings)
    return result.to_json(), STATUS_CODES[result.disposition]
