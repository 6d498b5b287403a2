"""Which image locations the worker may fetch, decided from the media row alone.

A ``media.storage_path`` is data anyone with write access to a media row shaped, so the worker
treats it as hostile and accepts only these forms, each checked by a named rule (a refusal is
a :class:`LocationRefused` whose text starts with ``rule <name>``):

=================  ==============================================================================
``storage_key``    a bare object key in ``STORAGE_BUCKET``: no scheme, not absolute, no ``.``/``..``
                   segment, no backslash or control character
``gcs_bucket``     ``gs://<bucket>/<key>`` only in ``UPLOADS_BUCKET`` (the key as above)
``https_host``     ``https://`` only to a host of ``IMAGE_ALLOWED_HOSTS``, port 443, no user info
``file_disabled``  ``file://`` only where ``LOCAL_STORAGE_DIR`` is set (the demo sets it)
``file_root``      ``file://`` only to a file inside ``LOCAL_STORAGE_DIR``, symlinks resolved
``scheme``         anything else (``http://``, ``ftp://``, ``storage://``, ``data:``...)
=================  ==============================================================================

Two more rules apply while fetching (:mod:`shared.storage.guarded_http`, :mod:`shared.storage.answers`):
``public_address`` (every address an allowed host resolves to must be public: never loopback,
private, link-local, metadata or reserved) and ``redirect`` (redirects are never followed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

from shared.settings import Settings
from shared.storage.errors import ImageFetchError

Store = Literal["storage", "gs"]
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
_FORBIDDEN_IN_KEY = re.compile(r"[\x00-\x1f\x7f\\]")
SHOWN_CHARACTERS = 120


class LocationRefused(ImageFetchError):
    """A location the rules do not allow; ``rule`` names the rule (also the text's start)."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__("location_refused", f"rule {rule}: {message}")
        self.rule = rule


@dataclass(frozen=True)
class ImageLocation:
    """An allowed location: ``scheme`` is ``storage`` (Supabase), ``gs``, ``https`` or ``file``.

    ``bucket`` and ``key`` for the two stores, ``url`` for https, ``path`` (resolved) for files.
    """

    scheme: str
    bucket: str = ""
    key: str = ""
    url: str = ""
    path: Path | None = None

    def __str__(self) -> str:
        if self.scheme in ("storage", "gs"):
            return f"{self.scheme}://{self.bucket}/{self.key}"
        if self.scheme == "https":
            return self.url.split("?", 1)[0]   # a signature in the query string stays out of errors
        return str(self.path)


def shown(text: str) -> str:
    """A location as error texts quote it: bounded, its query string (signatures) left out."""
    text = text.split("?", 1)[0]
    return repr(text if len(text) <= SHOWN_CHARACTERS else text[:SHOWN_CHARACTERS] + "...")


def media_image_location(storage_path: str, settings: Settings, *, bare_keys: Store = "storage") -> ImageLocation:
    """The allowed location of a media row's ``storage_path``, or :class:`LocationRefused`.

    ``bare_keys`` says which store a bare key names: Supabase Storage (the app's convention,
    and every message from ml-enqueue: ``STORAGE_BUCKET``) or Cloud Storage (a notification of
    ``UPLOADS_BUCKET``, which proved the object is there).
    """
    scheme = _SCHEME.match(storage_path)
    if scheme is None:
        bucket = settings.storage_bucket if bare_keys == "storage" else settings.uploads_bucket or ""
        return ImageLocation(bare_keys, bucket, _object_key(storage_path, storage_path))
    name = scheme.group(0)[:-1].lower()
    if name == "gs" and storage_path.startswith("gs://"):
        return _gcs_location(storage_path, settings)
    if name == "https":
        return _https_location(storage_path, settings)
    if name == "file":
        return _file_location(storage_path, settings)
    raise LocationRefused("scheme", f"{shown(storage_path)}: only object keys, gs://, https:// and (locally) "
                                    "file:// images are fetched")


def _object_key(key: str, storage_path: str) -> str:
    segments = key.split("/")
    if (not key or key.startswith("/") or _FORBIDDEN_IN_KEY.search(key)
            or any(segment in (".", "..") for segment in segments)):
        raise LocationRefused("storage_key", f"{shown(storage_path)}: an object key is relative, without '.' or "
                                             "'..' segments, backslashes or control characters")
    return key


def _gcs_location(storage_path: str, settings: Settings) -> ImageLocation:
    bucket, _, key = storage_path.removeprefix("gs://").partition("/")
    if settings.uploads_bucket is None or bucket != settings.uploads_bucket:
        raise LocationRefused("gcs_bucket", f"{shown(storage_path)}: gs:// images must be in UPLOADS_BUCKET "
                                            f"({settings.uploads_bucket or 'unset'})")
    return ImageLocation("gs", bucket, _object_key(key, storage_path))


def _https_location(storage_path: str, settings: Settings) -> ImageLocation:
    try:
        url = parse_url(storage_path)   # the parser requests itself uses: no disagreement on the host
    except LocationParseError:
        url = None
    host = (url.host or "").lower().removesuffix(".") if url else ""
    if (url is None or url.scheme != "https" or url.auth is not None or url.port not in (None, 443)
            or host not in settings.image_allowed_hosts):
        allowed = ", ".join(settings.image_allowed_hosts) or "none: IMAGE_ALLOWED_HOSTS is unset"
        raise LocationRefused("https_host", f"{shown(storage_path)}: https:// images only from IMAGE_ALLOWED_HOSTS "
                                            f"({allowed}), port 443, without user info")
    return ImageLocation("https", url=storage_path)


def _file_location(storage_path: str, settings: Settings) -> ImageLocation:
    root = settings.local_storage_dir
    if root is None:
        raise LocationRefused("file_disabled", f"{shown(storage_path)}: file:// images are read only where "
                                               "LOCAL_STORAGE_DIR is set (the local demo)")
    parts = urlsplit(storage_path)
    decoded = unquote(parts.path)
    path = Path(decoded.replace("\x00", "")).resolve()   # symlinks and '..' resolved before the check
    if (parts.netloc not in ("", "localhost") or parts.query or "\x00" in decoded
            or not path.is_relative_to(root.resolve())):
        raise LocationRefused("file_root", f"{shown(storage_path)}: file:// images must be files inside "
                                           "LOCAL_STORAGE_DIR")
    return ImageLocation("file", path=path)
