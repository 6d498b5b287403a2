"""ml-callback: workers report finished jobs; this decides the follow-up work.

The workers have already written their outcome to ``ml_jobs``; a callback only prompts a
re-evaluation of the event (:mod:`shared.pipeline.cluster_trigger`), which reads everything from the
database. So callbacks are idempotent, may arrive in any order or not at all, and
``{"type": "sweep"}`` (Cloud Scheduler) re-evaluates every event with pending work.
"""

from __future__ import annotations

from typing import Any

import flask

from shared.api.auth import authenticate_worker
from shared.api.http import ApiError, choice_param, invalid, request_params, uuid_param
from shared.log import log_context
from shared.pipeline.cluster_trigger import ClusterStartError, maybe_start_clustering, sweep
from shared.settings import Settings


def handle_callback(request: flask.Request, settings: Settings) -> tuple[dict[str, Any], int]:
    authenticate_worker(request, settings)
    params = request_params(request)
    if params.get("type") == "sweep" or params.get("job_type") == "sweep":
        return {"sweep": sweep(settings)}, 200
    job_type = choice_param(params, "job_type", ("detect", "cluster"))
    event_id = uuid_param(params, "event_id")
    job_id = uuid_param(params, "job_id", required=False)
    media_id = uuid_param(params, "media_id", required=False)
    status = choice_param(params, "status", ("completed", "failed"))
    if job_type == "detect" and media_id is None and job_id is None:
        raise invalid("media_id", "a detect callback names its job_id or media_id")
    with log_context(job_id=job_id, media_id=media_id, event_id=event_id):
        try:
            trigger = maybe_start_clustering(settings, event_id)
        except ClusterStartError as exc:
            raise ApiError(503, "cluster_start_failed", str(exc), headers={"Retry-After": "30"}) from None
    return {"event_id": str(event_id), "job_type": job_type, "status": status,
            "cluster_started": trigger.started, "cluster_job_id": str(trigger.job_id) if trigger.job_id else None,
            "reason": trigger.reason}, 200
