"""Cloud Run Job: move one event to another model pack (``facecluster reembed``), keeping user work.

    python -m jobs.reembed_event --event <uuid> [--pack <pack>]

An operator starts it after changing ``MODEL_PACK``:
``gcloud run jobs execute face-reembed --region R --args=--event,<uuid>``. Same arguments,
output and exit status as ``facecluster reembed``: 0 moved (or already there), 1 refused
(unknown event or pack, a clustering in flight, unreadable photos), with the reason on stderr
and, when a run had started, in its ``ml_jobs`` row.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from shared.cli import main as cli_main


def main(argv: Sequence[str] | None = None) -> int:
    return cli_main(["reembed", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
