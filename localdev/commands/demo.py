"""``facecluster demo PHOTOS_DIR``: the whole system, locally, on a folder of photos (docs/demo.md)."""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

from localdev.stack.demo_session import DemoSession
from localdev.stack.processes import exit_on_sigterm
from localdev.stack.stack import PUBSUB_MODES
from shared.log import configure_logging
from shared.settings import get_settings


def _demo(args: argparse.Namespace) -> int:
    settings = get_settings()
    # pgserver asks platformdirs for a runtime directory; without XDG_RUNTIME_DIR /tmp is fine.
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    # Progress and the summary are for a person; the servers' JSON logs go to files.
    configure_logging("WARNING")
    summary = None
    try:
        with exit_on_sigterm(), DemoSession(args.photos_dir, settings, pack=args.pack, progress=sys.stderr,
                                             pubsub=args.pubsub) as session:
            print(f"facecluster demo: stack up (Pub/Sub: {session.stack.pubsub_mode}; logs in {session.stack.log_dir})",
                  file=sys.stderr, flush=True)
            summary = session.run()
            print(summary.render(), flush=True)
            if args.keep_running:
                print(f"  review      {summary.review_url}  (Ctrl-C stops everything)", flush=True)
                while True:
                    session.stack.check_running()
                    time.sleep(1)
            else:
                print("  (run with --keep-running to use the live review page)", flush=True)
    except KeyboardInterrupt:
        if summary is not None:  # --keep-running ends with Ctrl-C: that is the normal way out
            print("facecluster demo: stopped", file=sys.stderr)
            return 0
        print("facecluster demo: interrupted; everything stopped (the data stays for the next run)",
              file=sys.stderr)
        return 130
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    demo = subparsers.add_parser("demo", help="run the whole pipeline locally on a folder of photos")
    demo.add_argument("photos_dir", type=Path, metavar="PHOTOS_DIR", help="folder of JPEG/PNG/HEIC photos")
    demo.add_argument("--keep-running", action="store_true",
                      help="keep the stack and the review page up after the run, until Ctrl-C")
    demo.add_argument("--pack", default=None, help="model pack (default: MODEL_PACK)")
    demo.add_argument("--pubsub", choices=PUBSUB_MODES, default="auto",
                      help="the Pub/Sub emulator, or an in-process relay that pushes the same bodies "
                           "(auto: the emulator when installed)")
    demo.set_defaults(handler=_demo)
