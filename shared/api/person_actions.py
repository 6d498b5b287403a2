"""face-person-actions: the reviewer's changes to persons, and the GDPR actions of an event.

Every action runs in one transaction that takes the locks in the order of
:mod:`shared.db.events` (the event row when the flag changes, the event's face-data lock, the
persons involved by id); failures roll back entirely. Roles: organisers do everything except
``purge_my_data``, ``opt_in``, ``this_is_me`` and ``not_me``, which any member does for themself.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg

from shared.api.auth import AuthenticatedUser
from shared.api.face_add import add_missed_face
from shared.api.http import ApiError, bool_param, choice_param, invalid, uuid_param
from shared.api.roles import require_event_role
from shared.db import person_actions
from shared.db.connection import get_pool, transaction
from shared.db.event_models import unpin_event_model
from shared.db.events import is_event_member, lock_event_face_data, lock_event_row, set_face_recognition_enabled
from shared.db.gdpr import opt_back_in, purge_event_face_data, purge_user_face_data
from shared.db.ml_jobs import fail_open_jobs
from shared.db.not_me import forget_not_me, record_not_me
from shared.db.person_actions import PersonActionError
from shared.db.persons_read import get_person
from shared.settings import Settings

logger = logging.getLogger(__name__)

MAX_DISPLAY_NAME = 200
_STATUS_OF_KIND = {"not_found": 404, "conflict": 409, "invalid": 400}

Action = Callable[[psycopg.Connection, uuid.UUID, AuthenticatedUser, dict[str, Any]], dict[str, Any]]


def _person(conn: psycopg.Connection, person_id: uuid.UUID) -> dict[str, Any]:
    row = get_person(conn, person_id)
    return {key: str(value) if isinstance(value, uuid.UUID) else value for key, value in row.items()}


def _assign(conn: psycopg.Connection, event_id: uuid.UUID, user: AuthenticatedUser,
        params: dict[str, Any]) -> dict[str, Any]:
    person_id, user_id = uuid_param(params, "person_id"), uuid_param(params, "user_id")
    if not is_event_member(conn, event_id, user_id):
        raise invalid("user_id", "not a member of this event")
    tags = person_actions.assign(conn, event_id, person_id, user_id)
    return {"person": _person(conn, person_id), **tags}


def _unassign(conn: psycopg.Connection, event_id: uuid.UUID, user: AuthenticatedUser,
        params: dict[str, Any]) -> dict[str, Any]:
    person_id = uuid_param(params, "person_id")
    tags = person_actions.unassign(conn, event_id, person_id)
    return {"person": _person(conn, person_id), **tags}


def _merge(conn: psycopg.Connection, event_id: uuid.UUID, user: AuthenticatedUser,
        params: dict[str, Any]) -> dict[str, Any]:
    person_id, into = uuid_param(params, "person_id"), uuid_param(params, "into_person_id")
    tags = person_actions.merge(conn, event_id, person_id, into, force=bool_param(params, "force"))
    return {"person": _person(conn, into), "merged_person_id": str(person_id), **tags}


def _accept_suggestion(conn: psycopg.Connection, event_id: uuid.UUID, user: AuthenticatedUser,
        params: dict[str, Any]) -> dict[str, Any]:
    """"Same person": merge the smaller of the two into the larger (a merge, with its link rules)."""
    person_id, other = uuid_param(params, "person_id"), uuid_param(params, "other_person_id")
    if person_id == other:
        raise invalid("other_person_id", "a person is the same as itself")
    kept, merged = person_actions.larger_first(conn, event_id, person_id, other)
    tags = person_actions.merge(conn, event_id, merged, kept, force=bool_param(params, "force"))
    return {"person": _person(conn, kept), "merged_person_id": str(merged), **tags}


def _reject_suggestion(conn: psycopg.Connection, event_id: uuid.UUID, user: AuthenticatedUser,
        params: dict[str, Any]) -> dict[str, Any]:
    """"Different": never suggest the pair again, in either direction, across re-clustering."""
    person_id, other = uuid_param(params, "person_id"), uuid_param(params, "other_person_id")
    recorded = person_actions.mark_different(conn, event_id, person_id, other, user.user_id)
    return {"person_id": str(person_id), "other_person_id": str(other), "recorded": recorded}


def _rename(conn: psycopg.Connection, event_id: uuid.UUID, user: AuthenticatedUser,
        params: dict[str, Any]) -> dict[str, Any]:
    person_id = uuid_param(params, "person_id")
    name = params.get("display_name")
    if name is not None and not isinstance(name, str):
        raise invalid("display_name", "expected a string or null")
    name = (name or "").strip() or None
    if name is not None and len(name) > MAX_DISPLAY_NAME:
        raise invalid("display_name", f"at most {MAX_DISPLAY_NAME} characters")
    person_actions.rename(conn, event_id, person_id, name)
    return {"person": _person(conn, person_id)}


def _set_ignored(ignored: bool) -> Action:
    def action(conn: psycopg.Connection, event_id: uuid.UUID, user: AuthenticatedUser,
               params: dict[str, Any]) -> dict[str, Any]:
        person_id = uuid_param(params, "person_id")
        tags = person_actions.set_ignored(conn, event_id, person_id, ignored)
        return {"person": _person(conn, person_id), **tags}
    return action


def _remove_face(conn: psycopg.Connection, event_id: uuid.UUID, user: AuthenticatedUser,
        params: dict[str, Any]) -> dict[str, Any]:
    person_id, face_id = uuid_param(params, "person_id"), uuid_param(params, "face_id")
    tags = person_actions.remove_face(conn, event_id, person_id, face_id)
    return {"person": _person(conn, person_id), "face_id": str(face_id), **tags}


def _purge_my_data(conn: psycopg.Connection, event_id: uuid.UUID, user: AuthenticatedUser,
        params: dict[str, Any]) -> dict[str, Any]:
    purged = purge_user_face_data(conn, user.user_id, event_id)
    logger.info("purged a user's face data", extra={"event_id": str(event_id), **purged})
    return {"purged": purged}


def _opt_in(conn: psycopg.Connection, event_id: uuid.UUID, user: AuthenticatedUser,
            params: dict[str, Any]) -> dict[str, Any]:
    """A member who purged their face data allows being linked to a person again."""
    lifted = opt_back_in(conn, user.user_id, event_id)
    logger.info("member opted back in to face recognition", extra={"event_id": str(event_id), "lifted": lifted})
    return {"opted_in": True, "opt_out_lifted": lifted}


def _set_face_recognition(conn: psycopg.Connection, event_id: uuid.UUID, user: AuthenticatedUser,
        params: dict[str, Any]) -> dict[str, Any]:
    """Turning on needs the consent the app asks for; turning off erases the event's face data."""
    if "enabled" not in params:
        raise invalid("enabled", "required (true or false)")
    enabled = bool_param(params, "enabled")
    if enabled and params.get("consent") is not True:
        raise ApiError(400, "consent_required", "enabling face recognition needs `consent: true` (the user "
                       "confirmed the GDPR notice about biometric data)", field="consent")
    previous = lock_event_row(conn, event_id)  # locked already (ActionSpec.locks_event_row); read the flag
    set_face_recognition_enabled(conn, event_id, enabled)
    body: dict[str, Any] = {"face_recognition_enabled": enabled, "previously_enabled": previous}
    if enabled:
        logger.info("face recognition enabled with consent", extra={"event_id": str(event_id),
                                                                    "consent_by": str(user.user_id)})
    else:
        body["jobs_cancelled"] = fail_open_jobs(conn, event_id, "face recognition was turned off")
        body["purged"] = purge_event_face_data(conn, user.user_id, event_id)
        unpin_event_model(conn, event_id)
        logger.info("face recognition disabled; event face data purged",
                    extra={"event_id": str(event_id), **body["purged"]})
    return body


def _this_is_me(conn: psycopg.Connection, event_id: uuid.UUID, user: AuthenticatedUser,
                params: dict[str, Any]) -> dict[str, Any]:
    """A member links a person (e.g. found by their selfie) to themself, by the organiser's rule.

    A person linked to someone else is not taken over: an organiser resolves it (``unassign``).
    """
    person_id = uuid_param(params, "person_id")
    person = person_actions.lock_persons(conn, event_id, [person_id])[person_id]
    if person["linked_user_id"] not in (None, user.user_id):
        raise ApiError(409, "person_linked_to_someone_else", "this person is linked to another member; an "
                       "organiser of the event may resolve it (unassign, then you can say this is you)",
                       field="person_id")
    forget_not_me(conn, person_id, user.user_id)
    tags = person_actions.assign(conn, event_id, person_id, user.user_id)
    return {"person": _person(conn, person_id), **tags}


def _not_me(conn: psycopg.Connection, event_id: uuid.UUID, user: AuthenticatedUser,
            params: dict[str, Any]) -> dict[str, Any]:
    """The person is not this member: never offered to them again; a link to them is removed."""
    person_id = uuid_param(params, "person_id")
    person = person_actions.lock_persons(conn, event_id, [person_id])[person_id]
    recorded = record_not_me(conn, event_id, person_id, user.user_id)
    tags = person_actions.unassign(conn, event_id, person_id) if person["linked_user_id"] == user.user_id else {}
    return {"person_id": str(person_id), "recorded": recorded, **tags}


@dataclass(frozen=True)
class ActionSpec:
    role: str                         # the least role allowed
    run: Action
    locks_event_row: bool = False     # changes the event row: lock it before the face-data lock


ACTIONS: dict[str, ActionSpec] = {
    "assign": ActionSpec("organiser", _assign),
    "unassign": ActionSpec("organiser", _unassign),
    "merge": ActionSpec("organiser", _merge),
    "accept_suggestion": ActionSpec("organiser", _accept_suggestion),
    "reject_suggestion": ActionSpec("organiser", _reject_suggestion),
    "rename": ActionSpec("organiser", _rename),
    "ignore": ActionSpec("organiser", _set_ignored(True)),
    "unignore": ActionSpec("organiser", _set_ignored(False)),
    "remove_face": ActionSpec("organiser", _remove_face),
    "set_face_recognition": ActionSpec("organiser", _set_face_recognition, locks_event_row=True),
    "purge_my_data": ActionSpec("member", _purge_my_data),
    "opt_in": ActionSpec("member", _opt_in),
    "this_is_me": ActionSpec("member", _this_is_me),
    "not_me": ActionSpec("member", _not_me),
}


# Actions that do slow work (fetching and analysing a photo) between their own transactions.
UNLOCKED_ACTIONS: dict[str, Callable[[AuthenticatedUser, dict[str, Any], Settings], tuple[dict[str, Any], int]]] = {
    "add_face": add_missed_face,
}


def perform_action(user: AuthenticatedUser, params: dict[str, Any], settings: Settings) -> tuple[dict[str, Any], int]:
    name = choice_param(params, "action", [*ACTIONS, *UNLOCKED_ACTIONS])
    try:
        if name in UNLOCKED_ACTIONS:
            return UNLOCKED_ACTIONS[name](user, params, settings)
        event_id = uuid_param(params, "event_id")
        spec = ACTIONS[name]
        with transaction(get_pool(settings)) as conn:
            require_event_role(conn, event_id, user.user_id, spec.role)
            if spec.locks_event_row:  # lock order: event row, face-data lock, persons (shared.db.events)
                lock_event_row(conn, event_id)
            lock_event_face_data(conn, event_id)
            result = spec.run(conn, event_id, user, params)
    except PersonActionError as exc:
        raise ApiError(_STATUS_OF_KIND[exc.kind], exc.code, exc.message, field=exc.field) from None
    return {"action": name, "event_id": str(event_id), **result}, 200
