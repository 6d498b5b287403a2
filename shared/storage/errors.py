"""What can go wrong when fetching an image, split by what the caller should do about it.

The detection service answers a permanent error (:class:`ImageFetchError` and its subclass
:class:`ImageNotFoundError`) by failing the job and acknowledging the message — fetching the
same location again cannot succeed. It answers :class:`StorageUnavailableError` with a 5xx
so that Pub/Sub redelivers later, when the storage service is back.
"""

from __future__ import annotations

from shared.errors import OperatorError


class ImageFetchError(OperatorError):
    """The image cannot be fetched from this location, now or later (a permanent error).

    ``code`` names the reason for machines (job ``error`` texts, tests, metrics):
    ``not_found``, ``refused`` (an expired or invalid signed URL, any other refused request),
    ``error_body`` (storage answered with an HTML/XML/JSON page instead of image bytes),
    ``too_large`` (over ``MAX_IMAGE_BYTES``) or ``bad_location``.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class ImageNotFoundError(ImageFetchError):
    """No object or file at this location (HTTP 404, a missing blob or path)."""

    def __init__(self, message: str) -> None:
        super().__init__("not_found", message)


class StorageUnavailableError(OperatorError):
    """Storage could not answer now (5xx, timeout, connection refused): retry later."""


def too_large(location: str, size: int, limit: int) -> ImageFetchError:
    """The permanent error for an image over ``MAX_IMAGE_BYTES`` (``size`` may be a lower bound)."""
    return ImageFetchError("too_large", f"{location} is over MAX_IMAGE_BYTES={limit} ({size} bytes or more)")
