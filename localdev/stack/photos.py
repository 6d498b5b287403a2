"""The photos of a folder the demo uploads: JPEG, PNG and HEIC/HEIF files, found recursively."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MIME_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png",
              ".heic": "image/heic", ".heif": "image/heif"}


@dataclass(frozen=True)
class Photo:
    path: Path
    key: str          # the path relative to the folder, POSIX form: stable across runs
    mime_type: str


def find_photos(folder: Path) -> list[Photo]:
    """Every photo under ``folder`` by relative path; hidden files and folders are left out."""
    photos = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        mime = MIME_TYPES.get(path.suffix.lower())
        if mime and path.is_file() and not any(part.startswith(".") for part in relative.parts):
            photos.append(Photo(path, relative.as_posix(), mime))
    return photos
