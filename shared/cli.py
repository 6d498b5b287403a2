"""The ``facecluster`` command: every local and operator task in one place.

Each task group lives in its own module under :mod:`shared.commands` and contributes its
sub-commands through ``register(subparsers)``; this module only assembles them, so adding a
command never touches another one. Development commands live in the ``localdev`` package, which
only a checkout has (the production image carries no demo): where it is missing, their names
still parse and say so in one line instead of failing with a traceback.
"""

from __future__ import annotations

import argparse
import functools
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
    "shared.commands.cluster_photos",
    "shared.commands.search_photos",
    "shared.commands.reembed",
)
# Sub-command name -> module in the development-only ``localdev`` package.
DEVELOPMENT_COMMANDS: dict[str, str] = {
    "demo": "localdev.commands.demo",
}


def _register_development_command(subparsers: argparse._SubParsersAction, name: str, module_name: str) -> None:
    """Register ``name`` from ``module_name``, or a stand-in that explains why it cannot run here."""
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        stand_in = subparsers.add_parser(name, help="development command: run it from a checkout")
        stand_in.add_argument("args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
        stand_in.set_defaults(handler=functools.partial(_development_only, name, exc.name))
        return
    module.register(subparsers)


def _development_only(name: str, missing: str | None, _args: argparse.Namespace) -> int:
    raise OperatorError(f"`{name}` is a development command: run it from a checkout of the repository "
                        f"(bash scripts/demo.sh PHOTOS_DIR installs what it needs); this installation "
                        f"lacks the module {missing}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="facecluster", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    for name, module_name in DEVELOPMENT_COMMANDS.items():
        _register_development_command(subparsers, name, module_name)
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
