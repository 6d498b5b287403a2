"""ml-enqueue: an organiser asks for detection of an event's media, or for clustering.

Request ``{"type": "detect" | "cluster", "event_id", "media_ids"?: [...], "priority"?: "low" |
"normal" | "high", "force"?: bool}``; answers 202 with what was created (see docs/functions.md).
"""

from __future__ import annotations

from typing import Any

from shared.api.auth import AuthenticatedUser
from shared.api.http import ApiError, bool_param, choice_param, invalid, uuid_list_param, uuid_param
from shared.api.roles import require_event_role, require_face_recognition
from shared.db.connection import get_pool, transaction
from shared.db.ml_jobs import PRIORITIES
from shared.pipeline.cluster_trigger import ClusterStartError, start_clustering_now
from shared.pipeline.detect_requests import UnknownMediaError, enqueue_detection
from shared.settings import Settings

MAX_MEDIA_PER_REQUEST = 5000


def enqueue(user: AuthenticatedUser, params: dict[str, Any], settings: Settings) -> tuple[dict[str, Any], int]:
    kind = choice_param(params, "type", ("detect", "cluster"))
    event_id = uuid_param(params, "event_id")
    media_ids = uuid_list_param(params, "media_ids", MAX_MEDIA_PER_REQUEST)
    priority_name = choice_param(params, "priority", PRIORITIES, default="normal")
    force = bool_param(params, "force")
    if kind == "cluster" and media_ids is not None:
        raise invalid("media_ids", "only for type detect")
    with transaction(get_pool(settings)) as conn:
        require_face_recognition(require_event_role(conn, event_id, user.user_id, "organiser"))
    body: dict[str, Any] = {"type": kind, "event_id": str(event_id), "priority": priority_name}
    if kind == "cluster":
        try:
            started = start_clustering_now(settings, event_id, PRIORITIES[priority_name])
        except ClusterStartError as exc:
            raise ApiError(503, "cluster_start_failed", str(exc), headers={"Retry-After": "30"}) from None
        return {**body, "started": started.started, "job_id": str(started.job_id) if started.job_id else None,
                "reason": started.reason}, 202
    try:
        result = enqueue_detection(settings, event_id, media_ids, PRIORITIES[priority_name], force)
    except UnknownMediaError as exc:
        raise invalid("media_ids", str(exc)) from None
    if result.publish_failed:
        raise ApiError(503, "publish_failed",
                       f"{len(result.publish_failed)} of {len(result.publish_failed) + len(result.job_ids)} "
                       "detection messages could not be published; their jobs were failed and sending the "
                       "same request again re-creates exactly those", headers={"Retry-After": "10"})
    return {**body, "jobs_created": len(result.job_ids), "job_ids": [str(j) for j in result.job_ids],
            "skipped_analysed": result.skipped_analysed, "already_in_flight": result.already_in_flight,
            "reanalysed": result.reanalysed}, 202
