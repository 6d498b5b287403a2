"""face-persons: an event's persons for the review page, largest first, with thumbnails.

Response (documented in docs/functions.md; the review page depends on it)::

    {"persons": [{"id", "status", "display_name", "linked_user_id", "merged_into", "face_count",
                  "media_count", "representative_face_id", "thumbnail": "data:image/jpeg;base64,..." | null,
                  "sample_faces": [{"face_id", "media_id", "thumbnail"}]}],
     "total", "limit", "offset", "next_offset": int | null,
     "unassigned_count", "unassigned": [{"face_id", "media_id", "thumbnail"}] (only with include_unassigned),
     "suggestions": [{"a": <person>, "b": <person>, "score"}] (only with include_suggestions)}

Merge suggestions (``include_suggestions``, at most ``suggestions_limit``) are pairs of active
persons that are probably one person, best first (:mod:`shared.clustering.suggestions`).

With ``person_id``, the person's page instead: ``{"person": <person>, "faces": [{"face_id",
"media_id", "thumbnail", "assignment", "origin"}], "total", "limit", "offset", "next_offset"}``, every
face of the person, best first, paged by ``limit`` / ``offset``.

Thumbnails are the small JPEG crops stored at detection time, inline as data URLs: no signed
URL to expire, no second request, a few kB each.
"""

from __future__ import annotations

import base64
import uuid
from collections import defaultdict
from typing import Any

import psycopg

from shared.api.auth import AuthenticatedUser
from shared.api.http import ApiError, bool_param, int_param, uuid_param
from shared.api.roles import require_event_role
from shared.clustering.suggestions import min_similarity
from shared.db.connection import get_pool, transaction
from shared.db.event_models import event_model
from shared.db.persons_read import (
    count_unassigned,
    list_persons,
    list_unassigned,
    person_cards,
    person_faces,
    sample_faces,
)
from shared.db.suggestions import list_suggestions
from shared.settings import Settings

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
SAMPLE_FACES = 4
SUGGESTIONS_PAGE = 10
MAX_SUGGESTIONS = 50
MAX_OFFSET = 1_000_000


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


def _with_samples(conn: psycopg.Connection, rows: list[dict[str, Any]]) -> dict[Any, dict[str, Any]]:
    """Persons as JSON, by id, each with its best few faces."""
    samples: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for sample in sample_faces(conn, [row["id"] for row in rows], SAMPLE_FACES):
        samples[sample["person_id"]].append(sample)
    return {row["id"]: _person_json(row, samples[row["id"]]) for row in rows}


def _suggestions(conn: psycopg.Connection, event_id: uuid.UUID, model: str, limit: int) -> list[dict[str, Any]]:
    pairs = list_suggestions(conn, event_id, model, min_similarity(model), limit)
    cards = person_cards(conn, event_id, model, list({p for pair in pairs for p in (pair["a"], pair["b"])}))
    persons = _with_samples(conn, list(cards.values()))
    return [{"a": persons[pair["a"]], "b": persons[pair["b"]], "score": pair["score"]} for pair in pairs]


def _page(total: int, limit: int, offset: int) -> dict[str, Any]:
    return {"total": total, "limit": limit, "offset": offset,
            "next_offset": offset + limit if offset + limit < total else None}


def _person_page(conn: psycopg.Connection, event_id: uuid.UUID, model: str, person_id: uuid.UUID,
                 limit: int, offset: int) -> dict[str, Any]:
    card = person_cards(conn, event_id, model, [person_id]).get(person_id)
    if card is None:
        raise ApiError(404, "person_not_found", f"no person {person_id} in this event", field="person_id")
    faces = person_faces(conn, person_id, limit, offset)
    return {"person": _with_samples(conn, [card])[person_id],
            "faces": [{**_face_json(face), "assignment": face["assignment"], "origin": face["origin"]}
                      for face in faces],
            **_page(card["face_count"], limit, offset)}


def list_event_persons(user: AuthenticatedUser, params: dict[str, Any],
                       settings: Settings) -> tuple[dict[str, Any], int]:
    event_id = uuid_param(params, "event_id")
    person_id = uuid_param(params, "person_id", required=False)
    limit = int_param(params, "limit", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    offset = int_param(params, "offset", 0, 0, MAX_OFFSET)
    include_merged = bool_param(params, "include_merged")
    include_unassigned = bool_param(params, "include_unassigned")
    unassigned_limit = int_param(params, "unassigned_limit", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    include_suggestions = bool_param(params, "include_suggestions")
    suggestions_limit = int_param(params, "suggestions_limit", SUGGESTIONS_PAGE, 1, MAX_SUGGESTIONS)
    with transaction(get_pool(settings)) as conn:
        require_event_role(conn, event_id, user.user_id, "member")
        model = event_model(conn, event_id, settings.model_pack)
        if person_id is not None:
            return _person_page(conn, event_id, model, person_id, limit, offset), 200
        rows, total = list_persons(conn, event_id, model, include_merged=include_merged, limit=limit, offset=offset)
        persons = _with_samples(conn, rows)
        body: dict[str, Any] = {
            "persons": [persons[row["id"]] for row in rows], **_page(total, limit, offset),
            "unassigned_count": count_unassigned(conn, event_id, model),
        }
        if include_unassigned:
            body["unassigned"] = [_face_json(face) for face in list_unassigned(conn, event_id, model, unassigned_limit)]
        if include_suggestions:
            body["suggestions"] = _suggestions(conn, event_id, model, suggestions_limit)
    return body, 200
