"""face-selfie-search: a member sends a photo of themself and gets the persons and photos that are them.

Where the selfie is analysed: in this function, from the one image every service runs (the
models are in it, checked at build time), with the detection service's analyser
(:func:`shared.face_analysis.get_analyzer`, loaded once per instance). Not in the detection
service: that service only takes Pub/Sub pushes authenticated by OIDC and is not reachable by
users; sending the selfie through it would mean a second hop carrying the biometric photo, and
a user-facing request queued behind batch detection. This function is its own Cloud Run
service (it needs the analyser's memory; the other functions do not). The selfie is analysed
with the event's own pack (``event_face_models``), whatever ``MODEL_PACK`` says now.

The selfie is the raw request body (``Content-Type: image/...``; at most ``SELFIE_MAX_BYTES``),
``event_id`` in the query string. Searches have their own allowance per member and minute,
``SELFIE_RATE_LIMIT_PER_MINUTE``, counted before the body is read. The selfie lives in memory
for this request only: no statement writes it or its embedding, nothing logs them
(tests/selfie/test_selfie_search.py checks the database and the log).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import flask
import psycopg

from shared.api.auth import AuthenticatedUser
from shared.api.http import ApiError, query_params, read_body, uuid_param
from shared.api.roles import require_event_role, require_face_recognition
from shared.clustering.params import params_for_model
from shared.db.connection import get_pool, transaction
from shared.db.event_models import event_model
from shared.db.gdpr import opted_out
from shared.face_analysis import ImageError, ModelFilesError, get_analyzer
from shared.selfie.checks import SelfieProblem, selfie_face
from shared.selfie.match import similarity
from shared.selfie.search import search_event
from shared.settings import Settings

logger = logging.getLogger(__name__)


def selfie_request(request: flask.Request, max_bytes: int) -> dict[str, Any]:
    """The query parameters and the selfie's bytes (at most ``max_bytes``: ``SELFIE_MAX_BYTES``)."""
    params = query_params(request)
    params["selfie"] = read_body(request, max_bytes)
    return params


def selfie_rate_limit(settings: Settings) -> int:
    """Searches per member and minute: its own, low allowance, as each one analyses a photo."""
    return settings.selfie_rate_limit_per_minute


def _refuse_opted_out(conn: psycopg.Connection, event_id: uuid.UUID, user_id: uuid.UUID) -> None:
    if opted_out(conn, event_id, user_id):
        raise ApiError(409, "user_opted_out", "you erased your face data in this event; opt back in "
                       "(face-person-actions opt_in) before searching with a selfie")


def search_by_selfie(user: AuthenticatedUser, params: dict[str, Any],
                     settings: Settings) -> tuple[dict[str, Any], int]:
    event_id = uuid_param(params, "event_id")
    selfie: bytes = params["selfie"]
    with transaction(get_pool(settings)) as conn:
        require_face_recognition(require_event_role(conn, event_id, user.user_id, "member"))
        _refuse_opted_out(conn, event_id, user.user_id)
        model = event_model(conn, event_id, settings.model_pack)
    if not selfie:
        raise ApiError(400, "invalid_request", "body: send the selfie as the request body", field="body")
    analyzer = get_analyzer(settings.model_copy(update={"model_pack": model}))
    try:
        analysis = analyzer.analyze(selfie)
    except ModelFilesError:
        logger.error("the event's pack cannot be loaded here", extra={"event_id": str(event_id), "model": model})
        raise ApiError(503, "model_unavailable", f"this event's face model ({model}) is not available here; "
                       "retry later", headers={"Retry-After": "60"}) from None
    except ImageError as exc:
        raise ApiError(422, "unreadable_image", f"the selfie cannot be read as a photo ({exc.code})",
                       field="body") from None
    clustering = params_for_model(model, settings, analyzer.embedding_dim)
    try:
        face = selfie_face(analysis, clustering.min_quality)
    except SelfieProblem as problem:
        raise ApiError(422, problem.code, problem.message, field="body",
                       details={"faces": problem.faces} if problem.faces else None) from None
    with transaction(get_pool(settings)) as conn:
        found = search_event(conn, event_id, user.user_id, model, face.embedding, clustering.min_quality)
    logger.info("selfie search", extra={"event_id": str(event_id), "persons": len(found.persons),
                                        "photos": len(found.media_ids)})
    return {
        "event_id": str(event_id),
        "persons": [{"person_id": str(p), "score": similarity(d)} for p, d in found.persons],
        "faces": [{"face_id": str(f), "media_id": str(m), "score": similarity(d)} for f, m, d in found.faces],
        "media_ids": sorted(str(m) for m in found.media_ids),
        "ambiguous": found.ambiguous,
    }, 200
