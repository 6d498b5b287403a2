"""``facecluster config``: show the configuration, or its reference table for the README."""

from __future__ import annotations

import argparse

from shared.settings import REPO_ROOT, VARIABLES, get_settings

SECRET_WORDS = ("SECRET", "KEY", "DATABASE_URL")


def markdown_table() -> str:
    """The README's configuration table, generated so the two cannot drift apart."""
    lines = ["| variable | form | default | what it is for |", "|---|---|---|---|"]
    for var in VARIABLES:
        default = "unset" if var.default in (None, ()) else f"`{_display_default(var.default)}`"
        lines.append(f"| `{var.name}` | {var.form} | {default} | {var.help} |")
    return "\n".join(lines)


def _display_default(value: object) -> str:
    if isinstance(value, tuple):
        return "x".join(map(str, value)) if all(isinstance(v, int) for v in value) else ",".join(map(str, value))
    return str(value).replace(str(REPO_ROOT), "<repo>")


def _show(args: argparse.Namespace) -> int:
    if args.markdown:
        print(markdown_table())
        return 0
    settings = get_settings()
    for var in VARIABLES:
        value = getattr(settings, var.name.lower())
        if value is not None and any(word in var.name for word in SECRET_WORDS):
            value = "***"
        print(f"{var.name}={'' if value is None else value}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("config", help="print the validated configuration (secrets masked)")
    parser.add_argument("--markdown", action="store_true", help="print the reference table of all variables")
    parser.set_defaults(handler=_show)
