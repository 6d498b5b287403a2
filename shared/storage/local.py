"""Local files (``file:///abs/path``): development and the offline CLI."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

from shared.settings import Settings
from shared.storage.errors import ImageFetchError, ImageNotFoundError, too_large


def fetch_local_file(location: str, settings: Settings) -> bytes:
    """Bytes of the file at ``file:///...``, at most ``MAX_IMAGE_BYTES``."""
    parsed = urlparse(location)
    if parsed.netloc not in ("", "localhost"):
        raise ImageFetchError("bad_location", f"{location!r}: expected file:///absolute/path")
    path = Path(url2pathname(parsed.path))
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise ImageNotFoundError(f"{location}: not a file")
        if size > settings.max_image_bytes:
            raise too_large(location, size, settings.max_image_bytes)
        return path.read_bytes()
    except (FileNotFoundError, NotADirectoryError) as exc:
        raise ImageNotFoundError(f"{location}: no such file") from exc
