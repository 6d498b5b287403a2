#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs everything it needs, lints, runs pytest.
# Extra arguments go to pytest (e.g. scripts/test.sh -k rls -x).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/bootstrap.sh
bash scripts/system-deps.sh
export PATH="$PWD/.venv/bin:$PATH"

echo "== ruff"
ruff check .

# Terraform's static security checks, from checkov's own venv (.venv-checkov); no skip
# without a reason written next to it (infra/terraform).
echo "== checkov"
bash scripts/checkov.sh

echo "== pytest"
set +e
pytest "$@"
status=$?
set -e
# pytest exits 5 when it collected no test: that is a failure of the suite, not a pass.
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests" >&2
  exit 1
fi
exit "$status"
