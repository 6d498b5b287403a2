"""Why an image or a model could not be used.

An :class:`ImageError` is a *permanent* failure of that one image: retrying cannot help, so the
caller marks the media failed with :attr:`ImageError.code` and moves on. A
:class:`ModelFilesError` is an operator's problem (a file missing or corrupt) and stops the
process with a message that says which file and how to fetch it.
"""

from __future__ import annotations

from shared.errors import OperatorError


class ImageError(Exception):
    """The bytes cannot be analysed as a photo; ``code`` is a stable machine-readable reason."""

    code = "image_error"


class NotAnImageError(ImageError):
    """The bytes are not an image in any format we know (text, PDF, empty, ...)."""

    code = "not_an_image"


class TruncatedImageError(ImageError):
    """The header is a known image format but the pixel data is cut short or corrupt."""

    code = "truncated"


class ImageTooLargeError(ImageError):
    """More pixels than ``MAX_IMAGE_PIXELS``: refused before decoding (decompression bomb)."""

    code = "too_large"


class UnsupportedFormatError(ImageError):
    """A recognised image format, or a mode of one, that this service cannot decode."""

    code = "unsupported_format"


class ModelFilesError(OperatorError):
    """A model file of the configured pack is missing or does not match its SHA-256."""
