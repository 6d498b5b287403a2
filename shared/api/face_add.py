"""face-person-actions ``add_face``: a face the detector missed, boxed by an organiser.

Request: ``{"action": "add_face", "event_id", "media_id", "box": [x1, y1, x2, y2], "person_id"?}``,
the box in the photo's pixels as shown (after EXIF orientation). The detector looks again on
the box (:meth:`shared.face_analysis.FaceAnalyzer.find_face_in_box`), the event's pack
(:mod:`shared.db.event_models`) embeds the face, and it is stored as a user-placed face
(``origin = 'user'``) in ``person_id`` or, without one, in the nearest person (or none).
422 ``no_face_in_box`` when there is no face to find.

Unlike the other actions it fetches and analyses an image, which takes a second or more: that
happens between two transactions (authorise and read the media row; then store under the
event's face-data lock), never while a lock is held.
"""

from __future__ import annotations

import math
import uuid
from typing import Any

from shared.api.auth import AuthenticatedUser
from shared.api.http import ApiError, invalid, uuid_param
from shared.api.roles import require_event_role, require_face_recognition
from shared.clustering.incremental import nearest_person
from shared.db.connection import get_pool, transaction
from shared.db.event_models import event_model, pin_event_model
from shared.db.events import lock_event_face_data
from shared.db.faces import media_state
from shared.db.person_actions import photo_faces, place_face
from shared.face_analysis import Face, ImageError, ModelFilesError, get_analyzer
from shared.reembed.matching import SAME_FACE_IOU, iou_matrix
from shared.settings import Settings
from shared.storage import ImageFetchError, StorageUnavailableError, fetch_image, media_image_location

MAX_COORDINATE = 100_000  # pixels: larger than any photo MAX_IMAGE_PIXELS lets through


def box_param(params: dict[str, Any], name: str) -> tuple[float, float, float, float]:
    """``[x1, y1, x2, y2]``: four finite numbers, x1 < x2 and y1 < y2, within the largest photo."""
    value = params.get(name)
    if (not isinstance(value, list) or len(value) != 4
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)):
        raise invalid(name, "expected [x1, y1, x2, y2] in pixels")
    x1, y1, x2, y2 = (float(v) for v in value)
    if not all(math.isfinite(v) and 0 <= v <= MAX_COORDINATE for v in (x1, y1, x2, y2)):
        raise invalid(name, f"coordinates must be between 0 and {MAX_COORDINATE}")
    if not (x1 < x2 and y1 < y2):
        raise invalid(name, "expected x1 < x2 and y1 < y2")
    return x1, y1, x2, y2


def _boxed_face(storage_path: str, box: tuple[float, float, float, float], model: str, settings: Settings) -> Face:
    try:
        data = fetch_image(media_image_location(storage_path, settings), settings)  # the worker's rules
        face = get_analyzer(settings.model_copy(update={"model_pack": model})).find_face_in_box(data, box)
    except StorageUnavailableError:
        raise ApiError(503, "unavailable", "the photo's storage is unavailable, retry later",
                       headers={"Retry-After": "5"}) from None
    except ModelFilesError:
        raise ApiError(503, "model_unavailable", f"the event's model pack {model} is not installed here",
                       headers={"Retry-After": "60"}) from None
    except (ImageFetchError, ImageError) as exc:
        raise ApiError(422, "image_unusable", f"the photo cannot be read ({exc.code})", field="media_id") from None
    if face is None:
        raise ApiError(422, "no_face_in_box", "no face was found in the box: draw it around one face "
                       "(forehead to chin)", field="box")
    return face


def _stored_face(faces: list[dict[str, Any]], face: Face) -> dict[str, Any] | None:
    """The user-placed face that is this one (idempotence); 409 when detection already found it."""
    if not faces:
        return None
    overlaps = iou_matrix([face.bbox], [row["bbox"] for row in faces])[0]
    best = int(overlaps.argmax())
    if overlaps[best] < SAME_FACE_IOU:
        return None
    if faces[best]["origin"] != "user":
        raise ApiError(409, "face_already_detected", f"the box holds face {faces[best]['id']}, which detection "
                       "already found: move that face instead", field="box")
    return faces[best]


def add_missed_face(user: AuthenticatedUser, params: dict[str, Any], settings: Settings) -> tuple[dict[str, Any], int]:
    event_id, media_id = uuid_param(params, "event_id"), uuid_param(params, "media_id")
    person_id = uuid_param(params, "person_id", required=False)
    box = box_param(params, "box")
    with transaction(get_pool(settings)) as conn:
        require_face_recognition(require_event_role(conn, event_id, user.user_id, "organiser"))
        media = media_state(conn, media_id)
        model = event_model(conn, event_id, settings.model_pack)
    if media is None or media.event_id != event_id:
        raise ApiError(404, "media_not_found", f"no media {media_id} in this event", field="media_id")
    face = _boxed_face(media.storage_path, box, model, settings)
    # PersonActionError: face-person-actions answers it like its other actions'
    with transaction(get_pool(settings)) as conn:
        require_event_role(conn, event_id, user.user_id, "organiser")
        lock_event_face_data(conn, event_id)
        if pin_event_model(conn, event_id, model) != model:
            raise ApiError(409, "concurrent_edit", "the event was moved to another model pack meanwhile, retry")
        stored = _stored_face(photo_faces(conn, media_id, model), face)
        if stored is not None:  # the request again (a retry, a double click): nothing more to do
            placed = {"face_id": stored["id"], "person_id": stored["person_id"], "created": False}
        else:
            target = person_id or nearest_person(conn, event_id, model, face.embedding, media_id, settings)
            placed = place_face(conn, event_id, media_id, model, face, target)
    body = {"action": "add_face", "event_id": str(event_id), "media_id": str(media_id),
            "bbox": [round(v, 1) for v in face.bbox], "det_score": round(face.det_score, 4),
            **{k: str(v) if isinstance(v, uuid.UUID) else v for k, v in placed.items()}}
    return body, 201 if placed["created"] else 200
