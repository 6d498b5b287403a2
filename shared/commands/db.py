"""``facecluster db ...``: database tasks (migrate, print the URL of the local server)."""

from __future__ import annotations

import argparse

from shared.db.connection import resolve_database_url
from shared.db.migrate import migrate
from shared.log import configure_logging
from shared.settings import get_settings


def _migrate(args: argparse.Namespace) -> int:
    settings = get_settings()
    configure_logging(settings.log_level)
    applied = migrate(resolve_database_url(settings))
    print(f"applied {len(applied)} migration(s)" + (f": {', '.join(applied)}" if applied else " (up to date)"))
    return 0


def _url(args: argparse.Namespace) -> int:
    print(resolve_database_url(get_settings()))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    db = subparsers.add_parser("db", help="database tasks")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="DB_COMMAND")
    db_commands.add_parser("migrate", help="apply pending SQL migrations (no-op when up to date)"
                           ).set_defaults(handler=_migrate)
    db_commands.add_parser("url", help="print the connection URL (starts the embedded server if needed)"
                           ).set_defaults(handler=_url)
