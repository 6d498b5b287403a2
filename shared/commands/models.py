"""``facecluster models fetch|verify``: put a pack's model files in place and check them.

``fetch`` runs at image build time (the Dockerfile calls it with ``$MODEL_PACK``) and
downloads from the upstream releases; ``verify`` checks what is there by SHA-256, e.g. after
mounting a model volume.
"""

from __future__ import annotations

import argparse

from shared.face_analysis.model_download import fetch_pack
from shared.face_analysis.packs import PACKS, get_pack, verify_pack
from shared.log import configure_logging
from shared.settings import get_settings


def _fetch(args: argparse.Namespace) -> int:
    settings = get_settings()
    configure_logging(settings.log_level)
    pack = get_pack(args.pack)
    fetched = fetch_pack(pack, settings.model_dir)  # checks every file's SHA-256, present or downloaded
    print(f"{pack.id}: {len(fetched)} file(s) downloaded, all files verified in {settings.model_dir}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    settings = get_settings()
    pack = get_pack(args.pack or settings.model_pack)
    paths = verify_pack(pack, settings.model_dir)
    for path in paths.values():
        print(f"ok  {path}")
    print(f"{pack.id}: all {len(paths)} file(s) match their SHA-256")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    models = subparsers.add_parser("models", help="model packs: fetch and verify files")
    commands = models.add_subparsers(dest="models_command", required=True, metavar="MODELS_COMMAND")
    fetch = commands.add_parser("fetch", help="download a pack from its upstream release (SHA-256 checked)")
    fetch.add_argument("pack", choices=sorted(PACKS), metavar="PACK", help=" | ".join(PACKS))
    fetch.set_defaults(handler=_fetch)
    verify = commands.add_parser("verify", help="check a pack's files by SHA-256 (default: MODEL_PACK)")
    verify.add_argument("pack", nargs="?", choices=sorted(PACKS), metavar="PACK", help=" | ".join(PACKS))
    verify.set_defaults(handler=_verify)
