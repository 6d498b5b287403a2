#!/usr/bin/env bash
# Debian packages the test suite needs, installed only when missing:
# - postgresql-15: a real PostgreSQL *without* pgvector (tests that migrations fail clearly there).
# - chromium, chromium-driver: the headless browser the review page's test drives with Playwright
#   (Debian's build, so no browser is downloaded at test time).
# Needs root (or passwordless sudo) the first time; later runs find everything and do nothing.
set -euo pipefail

need=()
[ -x /usr/lib/postgresql/15/bin/postgres ] || need+=(postgresql-15)
[ -x /usr/bin/chromium ] || need+=(chromium chromium-driver)

[ ${#need[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo -n"
echo "== installing Debian packages: ${need[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
