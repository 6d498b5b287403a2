"""Parse JSON that a client or a queue sent us, with bounds decided before the parser runs.

``json.loads`` alone is not safe on hostile input: a few thousand nested brackets raise
``RecursionError`` (a 500, not a 400), and it decodes ``\\u0000`` and lone surrogates
(``\\ud800``) into strings that PostgreSQL and every UTF-8 encoder refuse later, far from the
request. :func:`loads_untrusted` measures the nesting on the raw bytes first, parses only
then, and refuses any string (key or value) holding a NUL or an unpaired surrogate, naming the
top-level field it sits under. The HTTP layer (:mod:`shared.api.http`) and the detection
message schema (:mod:`shared.pipeline.messages`) both parse through it.

Numbers are left as ``json`` reads them (``Infinity`` and ``1e400`` become ``inf``): the
reader of each field checks that it is a finite integer in range (``int_param``), which is
where the field's name and range are known.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_JSON_DEPTH = 32
# Every string literal, escapes included; what is left holds the brackets that nest.
_STRING_LITERAL = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_A_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_FORBIDDEN_CHARACTERS = re.compile("[\x00\ud800-\udfff]")


class UntrustedJsonError(ValueError):
    """The input is not acceptable JSON; ``field`` names where (``body`` for the whole)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def nested_deeper_than(raw: bytes, max_depth: int) -> bool:
    """Whether the brackets of ``raw`` outside string literals nest deeper than ``max_depth``.

    Each pass deletes the innermost pairs (``[]``, ``{}``), so the number of passes to empty is
    the depth; a pass is three ``bytes.replace``, so a megabyte of brackets takes milliseconds. Brackets no
    pass can pair (malformed JSON) count as deep when there are more than ``max_depth`` of them,
    so the parser never meets more than twice ``max_depth`` levels.
    """
    brackets = _STRING_LITERAL.sub(b"", raw).translate(None, _NOT_A_BRACKET)
    for _ in range(max_depth):
        paired = _remove_innermost_pairs(brackets)
        if paired == brackets:        # empty, or nothing left that pairs
            return len(brackets) > max_depth
        brackets = paired
    return bool(brackets)             # still brackets after max_depth levels


def _remove_innermost_pairs(brackets: bytes) -> bytes:
    """One level less: each adjacent ``[]`` / ``{}`` is marked ``()`` first, then the marks go, so
    pairs that only meet once another pair is gone wait for the next pass."""
    return brackets.replace(b"[]", b"()").replace(b"{}", b"()").replace(b"()", b"")


def loads_untrusted(raw: bytes, *, field: str = "body", max_depth: int = MAX_JSON_DEPTH) -> Any:
    """The JSON value of ``raw``, or :class:`UntrustedJsonError` naming what is wrong."""
    if nested_deeper_than(raw, max_depth):
        raise UntrustedJsonError(field, f"JSON nested deeper than {max_depth} levels")
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError) as exc:   # RecursionError cannot happen below max_depth; kept as a net
        raise UntrustedJsonError(field, f"not JSON ({type(exc).__name__})") from None
    check_strings(value, field)
    return value


def check_strings(value: Any, field: str) -> None:
    """Refuse NUL and unpaired surrogates in every string of ``value``; top-level keys name the field."""
    if isinstance(value, str):
        if _FORBIDDEN_CHARACTERS.search(value):
            raise UntrustedJsonError(field, "contains a NUL character or an unpaired surrogate")
    elif isinstance(value, dict):
        for key, item in value.items():
            check_strings(key, field)       # a bad key is named by where it sits, never by itself
            check_strings(item, key if field == "body" else field)
    elif isinstance(value, list):
        for item in value:
            check_strings(item, field)
