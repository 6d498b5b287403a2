"""ml-media-inserted: the database says an event has media awaiting detection.

Called by the trigger of migration ``20261130001000`` (``pg_net`` on Supabase; the local stack
forwards its ``pg_notify``) with header ``X-Webhook-Secret`` and body ``{"event_id": "<uuid>"}``,
nothing else. The body is only a nudge: what to detect is read from the database
(:mod:`shared.pipeline.media_inserts`), so repeating it creates nothing more.
"""

from __future__ import annotations

from typing import Any

import flask

from shared.api.auth import authenticate_media_webhook
from shared.api.http import ApiError, invalid, request_params, uuid_param
from shared.log import log_context
from shared.pipeline.detect_requests import UnknownMediaError
from shared.pipeline.media_inserts import start_detection_of_inserted_media
from shared.settings import Settings

FIELDS = frozenset({"event_id"})


def handle_media_inserted(request: flask.Request, settings: Settings) -> tuple[dict[str, Any], int]:
    authenticate_media_webhook(request, settings)
    params = request_params(request)
    unknown = sorted(set(params) - FIELDS)
    if unknown:
        raise invalid(unknown[0], "unknown field (the body is {\"event_id\": \"<uuid>\"})")
    event_id = uuid_param(params, "event_id")
    with log_context(event_id=event_id):
        try:
            result = start_detection_of_inserted_media(settings, event_id)
        except UnknownMediaError as exc:  # a media row changed event or type between reading and enqueueing
            raise ApiError(409, "concurrent_edit", f"{exc}; send again", headers={"Retry-After": "1"}) from None
    enqueued = result.enqueued
    if enqueued is not None and enqueued.publish_failed:
        raise ApiError(503, "publish_failed",
                       f"{len(enqueued.publish_failed)} detection messages could not be published; the media "
                       "still await detection and the next notification or sweep starts them",
                       headers={"Retry-After": "10"})
    return {"event_id": str(event_id), "awaiting": result.awaiting,
            "jobs_created": len(enqueued.job_ids) if enqueued else 0,
            "already_in_flight": enqueued.already_in_flight if enqueued else 0,
            "skipped_analysed": enqueued.skipped_analysed if enqueued else 0,
            "skipped": result.skipped}, 200
