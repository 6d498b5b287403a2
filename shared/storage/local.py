"""Local files: the demo's object store (``LOCAL_STORAGE_DIR``), already checked by the policy."""

from __future__ import annotations

from shared.settings import Settings
from shared.storage.errors import ImageNotFoundError, too_large
from shared.storage.policy import ImageLocation


def fetch_local_file(location: ImageLocation, settings: Settings) -> bytes:
    """Bytes of the file, at most ``MAX_IMAGE_BYTES``; its path was resolved inside the root."""
    assert location.path is not None
    path = location.path
    try:
        if not path.is_file():
            raise ImageNotFoundError(f"{location}: no such file")
        size = path.stat().st_size
        if size > settings.max_image_bytes:
            raise too_large(str(location), size, settings.max_image_bytes)
        return path.read_bytes()
    except (FileNotFoundError, NotADirectoryError) as exc:
        raise ImageNotFoundError(f"{location}: no such file") from exc
