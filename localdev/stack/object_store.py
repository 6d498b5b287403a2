"""The local object store: uploaded photos as files under the data directory.

Uploading copies each photo, so the event keeps working when the user's folder changes or
goes away (as an upload to Cloud Storage would); media rows point at the copies with
``file://`` locations, which the detection service fetches like any other location.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import unquote


class DirectoryObjectStore:
    """Objects are files at ``<root>/<key>``; a key is a relative POSIX path."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def path_of(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root):
            raise ValueError(f"object key {key!r} leaves the store")
        return path

    def location_of(self, key: str) -> str:
        """The ``file://`` location the detection service fetches (and ``media.storage_path`` holds)."""
        return self.path_of(key).as_uri()

    def key_of(self, location: str) -> str:
        """The key of a location this store made (the photo's path relative to the folder)."""
        prefix = self.root.as_uri() + "/"
        if not location.startswith(prefix):
            raise ValueError(f"{location!r} is not in this store")
        return unquote(location[len(prefix):])

    def upload(self, key: str, source: Path) -> str:
        """Copy ``source`` to ``key``; return its location."""
        target = self.path_of(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            partial = target.with_name(target.name + ".partial")
            shutil.copyfile(source, partial)
            partial.replace(target)
        return self.location_of(key)
