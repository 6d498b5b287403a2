#!/usr/bin/env bash
# Create .venv in the repository root and install facecluster with its ML and dev extras.
# Idempotent: a second run only installs what changed. Used by scripts/test.sh and scripts/demo.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "facecluster needs Python >= 3.11 (found: $("$PYTHON" --version 2>&1))" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  # --no-compile: byte-compiling all 1.4 GB of dependencies costs about half of the install's CPU
  # time, and Python compiles the few modules a run imports on first use anyway.
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-compile -e '.[ml,dev]'
  rm -f .venv/.installed-*
  touch "$stamp"
fi
