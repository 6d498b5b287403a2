#!/usr/bin/env bash
# Static security checks of infra/terraform with checkov, from its own virtual environment.
# checkov pins its own versions of many libraries (boto3, networkx, ...); keeping it out of
# .venv keeps those pins from fighting the project's. Fails when any check fails; every
# skipped check is listed with its reason in infra/terraform/.checkov.yaml or inline.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv-checkov/bin/checkov ]; then
  "$PYTHON" -m venv .venv-checkov
  .venv-checkov/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  # --no-compile as in bootstrap.sh: a scan imports a fraction of what checkov installs.
  .venv-checkov/bin/python -m pip install --quiet --disable-pip-version-check --no-compile 'checkov>=3.2,<4'
fi
# --skip-download: this runs offline; it only loses links to checkov's online guidelines.
exec .venv-checkov/bin/checkov -d infra/terraform --config-file infra/terraform/.checkov.yaml --quiet --compact \
  --skip-download
