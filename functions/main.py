"""Every HTTP target of the repository, for ``functions-framework --source functions/main.py --target <name>``.

All services run from one image with this one source file; each imports only its own target,
on first use (PEP 562 module ``__getattr__``), so a function's cold start does not pay for the
others' imports (the detection stack alone takes about 0.4 s).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

TARGETS = ("detect_push", "ml_enqueue", "ml_callback", "media_inserted", "face_persons", "face_person_actions",
           "face_selfie_search")


def __getattr__(name: str) -> Callable[..., Any]:
    if name not in TARGETS:
        raise AttributeError(f"module {__name__!r} has no target {name!r}")
    return getattr(importlib.import_module(f"functions.{name}"), name)


def __dir__() -> list[str]:
    return [*globals(), *TARGETS]
