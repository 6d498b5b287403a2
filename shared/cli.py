"""The ``facecluster`` command: every local and operator task in one place.

Each task group lives in its own module under :mod:`shared.commands` and contributes its
sub-commands through ``register(subparsers)``; this module only assembles them, so adding a
command never touches another one.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from shared.errors import OperatorError
from shared.settings import SettingsError

COMMAND_MODULES: tuple[str, ...] = (
    "shared.commands.db",
    "shared.commands.config",
    "shared.commands.analyze",
    "shared.commands.models",
    "localdev.commands.demo",
    "shared.commands.cluster_photos",
    "shared.commands.search_photos",
    "shared.commands.reembed",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="facecluster", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one sub-command; configuration errors print one line and exit with status 2."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except SettingsError as exc:
        print(f"facecluster: configuration error: {exc}", file=sys.stderr)
        return 2
    except OperatorError as exc:
        print(f"facecluster: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
