"""face-persons: an event's persons for the review page, largest first, with thumbnails.

Response (documented in docs/functions.md; the review page depends on it)::

    {"persons": [{"id", "status", "display_name", "linked_user_id", "merged_into", "face_count",
                  "media_count", "representative_face_id", "thumbnail": "data:image/jpeg;base64,..." | null,
                  "sample_faces": [{"face_id", "media_id", "thumbnail"}]}],
     "total", "limit", "offset", "next_offset": int | null,
     "unassigned_count", "unassigned": [{"face_id", "media_id", "thumbnail"}] (only with include_unassigned)}

Thumbnails are the small JPEG crops stored at detection time, inline as data URLs: no signed
URL to expire, no second request, a few kB each.
"""

from __future__ import annotations

import base64
from collections import defaultdict
from typing import Any

from shared.api.auth import AuthenticatedUser
from shared.api.http import bool_param, int_param, uuid_param
from shared.api.roles import require_event_role
from shared.db.connection import transaction
from shared.db.event_models import event_model
from shared.db.persons_read import count_unassigned, list_persons, list_unassigned, sample_faces
from shared.settings import get_settings

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
SAMPLE_FACES = 4


def thumbnail_url(data: bytes | memoryview | None) -> str | None:
    if data is None:
        return None
    return "data:image/jpeg;base64," + base64.b64encode(bytes(data)).decode()


def _face_json(row: dict[str, Any]) -> dict[str, Any]:
    return {"face_id": str(row["face_id"]), "media_id": str(row["media_id"]),
            "thumbnail": thumbnail_url(row["thumbnail"])}


def _person_json(row: dict[str, Any], samples: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": str(row["id"]), "status": row["status"], "display_name": row["display_name"],
        "linked_user_id": _str_or_none(row["linked_user_id"]), "merged_into": _str_or_none(row["merged_into"]),
        "face_count": row["face_count"], "media_count": row["media_count"],
        "representative_face_id": _str_or_none(row["representative_face_id"]),
        "thumbnail": thumbnail_url(row["thumbnail"]),
        "sample_faces": [_face_json(sample) for sample in samples],
    }


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def list_event_persons(user: AuthenticatedUser, params: dict[str, Any]) -> tuple[dict[str, Any], int]:
    event_id = uuid_param(params, "event_id")
    limit = int_param(params, "limit", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    offset = int_param(params, "offset", 0, 0, 1_000_000)
    include_merged = bool_param(params, "include_merged")
    include_unassigned = bool_param(params, "include_unassigned")
    unassigned_limit = int_param(params, "unassigned_limit", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    with transaction() as conn:
        require_event_role(conn, event_id, user.user_id, "member")
        model = event_model(conn, event_id, get_settings().model_pack)
        rows, total = list_persons(conn, event_id, model, include_merged=include_merged, limit=limit, offset=offset)
        samples: dict[Any, list[dict[str, Any]]] = defaultdict(list)
        for sample in sample_faces(conn, [row["id"] for row in rows], SAMPLE_FACES):
            samples[sample["person_id"]].append(sample)
        body: dict[str, Any] = {
            "persons": [_person_json(row, samples[row["id"]]) for row in rows],
            "total": total, "limit": limit, "offset": offset,
            "next_offset": offset + limit if offset + limit < total else None,
            "unassigned_count": count_unassigned(conn, event_id, model),
        }
        if include_unassigned:
            body["unassigned"] = [_face_json(face) for face in list_unassigned(conn, event_id, model, unassigned_limit)]
    return body, 200
