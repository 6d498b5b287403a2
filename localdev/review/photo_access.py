"""The photo of a media id for the demo's review page, so an organiser can box a missed face on it.

In production the app hands the page a signed Supabase Storage URL; the local stack has no such
thing, so the review server answers ``GET /photo?media_id=<uuid>`` through :class:`ReviewPhotos`.
The client names only a media id: the caller's access token is verified as the functions verify
it, the media row is looked up, the caller must be a member of *its* event, and its
``storage_path`` goes through the worker's location rules (:mod:`shared.storage.policy`). Every
refusal short of a bad token is the same 404, so a stranger learns nothing about which ids exist.
"""

from __future__ import annotations

import uuid

from shared.api.auth import TokenVerifier, unauthorized
from shared.api.http import ApiError, invalid
from shared.db.connection import connect
from shared.db.events import is_event_member
from shared.db.faces import media_state
from shared.settings import Settings
from shared.storage import ImageFetchError, StorageUnavailableError, fetch_image, media_image_location

# Formats every browser shows, by their first bytes; anything else (HEIC, or not an image) is not served.
_SIGNATURES = ((b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"), (b"GIF8", "image/gif"))


def displayable_type(data: bytes) -> str | None:
    """The image type browsers display that ``data`` is, from its signature (never from the row)."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return next((mime for signature, mime in _SIGNATURES if data.startswith(signature)), None)


class ReviewPhotos:
    """Photos by media id for signed-in members of the media's event; ``settings`` as the servers'."""

    def __init__(self, settings: Settings, database_url: str) -> None:
        self._settings = settings
        self._database_url = database_url
        self._verifier = TokenVerifier(settings)

    def photo(self, token: str | None, media_id_text: str | None) -> tuple[bytes, str]:
        """``(bytes, content type)`` of the media's photo, or :class:`ApiError` (401/400/404/415/503)."""
        if not token:
            raise unauthorized("missing `Authorization: Bearer <access token>`", "missing_token")
        user = self._verifier.verify(token)
        media_id = _media_id(media_id_text)
        not_found = ApiError(404, "media_not_found", f"no media {media_id} you may see", field="media_id")
        with connect(self._database_url) as conn:
            media = media_state(conn, media_id)
            if media is None or not is_event_member(conn, media.event_id, user.user_id):
                raise not_found
        try:
            data = fetch_image(media_image_location(media.storage_path, self._settings), self._settings)
        except StorageUnavailableError:
            raise ApiError(503, "unavailable", "the photo's storage is unavailable, retry later",
                           headers={"Retry-After": "5"}) from None
        except ImageFetchError:
            raise not_found from None
        mime = displayable_type(data)
        if mime is None:
            raise ApiError(415, "photo_not_displayable", "this photo's format cannot be shown in a browser "
                           "(only JPEG, PNG, GIF and WebP)", field="media_id")
        return data, mime


def _media_id(media_id_text: str | None) -> uuid.UUID:
    """The query's ``media_id`` as a UUID, or a 400 naming it."""
    try:
        return uuid.UUID(media_id_text or "")
    except ValueError:
        raise invalid("media_id", "expected a media UUID") from None
