"""``facecluster reembed --event E [--pack P]``: move one event to another model pack, keeping user work.

Run by an operator after changing ``MODEL_PACK`` (locally with ``DATABASE_URL``, or as the
``face-reembed`` Cloud Run Job); see :mod:`shared.reembed.service`. Prints the outcome as
one JSON line; exit status 0 when the event is on the pack (moved now or already), 1 when
refused, with the reason.
"""

from __future__ import annotations

import argparse
import json
import uuid

from shared.log import configure_logging
from shared.reembed.service import reembed_event
from shared.settings import get_settings


def _event_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an event id (UUID): {value!r}") from None


def _reembed(args: argparse.Namespace) -> int:
    settings = get_settings()
    configure_logging(settings.log_level)
    result = reembed_event(settings, args.event, args.pack)
    print(json.dumps(result.summary()))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    command = subparsers.add_parser("reembed", help="re-analyse an event with another model pack, keeping "
                                    "names, links, merges, removals and ignored persons")
    command.add_argument("--event", type=_event_id, required=True, metavar="EVENT_ID", help="the event to move")
    command.add_argument("--pack", default=None, help="the pack to move it to (default: MODEL_PACK)")
    command.set_defaults(handler=_reembed)
