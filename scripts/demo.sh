#!/usr/bin/env bash
# The README's first command: run the whole system locally on a folder of photos.
#   bash scripts/demo.sh PHOTOS_DIR [--keep-running] [--pack PACK]
# Installs .venv if needed, then runs `facecluster demo` (docs/demo.md). Models come from
# FACECLUSTER_MODEL_DIR, by default ../shared/models beside the checkout when it exists.
# PHOTOS_DIR is taken relative to the current directory, not the repository.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

bash "$root/scripts/bootstrap.sh"
if [ -z "${FACECLUSTER_MODEL_DIR:-}" ] && [ -d "$root/../shared/models" ]; then
  FACECLUSTER_MODEL_DIR="$(cd "$root/../shared/models" && pwd)"
  export FACECLUSTER_MODEL_DIR
fi
exec "$root/.venv/bin/facecluster" demo "$@"
