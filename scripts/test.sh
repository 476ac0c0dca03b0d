#!/usr/bin/env bash
# Runs every test, after installing what the tests need on a fresh machine:
# xmllint (schema validation), Debian's Chromium and ChromeDriver (the console's
# end-to-end test), a Python virtual environment with the independent ONVIF
# peer onvif-zeep-async and schemathesis (which tests the API against its
# OpenAPI document), playwright-core (drives Chromium), and Debian's
# PostgreSQL server binaries (the tests start clusters of their own from them,
# on ports chosen at run time). Safe to run again: installs are skipped when present.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=()
command -v xmllint >/dev/null 2>&1 || packages+=(libxml2-utils)
[ -x /usr/bin/chromium ] || packages+=(chromium)
[ -x /usr/bin/chromedriver ] || packages+=(chromium-driver)
command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || packages+=(postgresql)
if [ ${#packages[@]} -gt 0 ]; then
  echo "== installing ${packages[*]}"
  if [ "$(id -u)" -eq 0 ]; then apt_get=(apt-get); else apt_get=(sudo apt-get); fi
  "${apt_get[@]}" update -qq
  DEBIAN_FRONTEND=noninteractive "${apt_get[@]}" install -y -qq "${packages[@]}" >/dev/null
fi

if [ ! -d crates/tandem/tests/e2e/node_modules/playwright-core ] || [ ! -d crates/tandem/tests/e2e/node_modules/axe-core ]; then
  echo "== installing playwright-core (drives Debian's Chromium; no browser download) and axe-core"
  (cd crates/tandem/tests/e2e && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --silent)
fi

if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c "import onvif" 2>/dev/null; then
  echo "== creating .venv with onvif-zeep-async"
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check "onvif-zeep-async>=4,<5"
fi

if ! .venv/bin/python -c "import schemathesis" 2>/dev/null; then
  echo "== installing schemathesis into .venv"
  .venv/bin/pip install -q --disable-pip-version-check "schemathesis>=4,<5"
fi
export TANDEM_PYTHON="$PWD/.venv/bin/python"

echo "== cargo test"
cargo test --workspace --all-targets --locked

# Again on PostgreSQL: the store's own tests (the same semantics on both
# backends), live control's outage and flapping suite, and the kill -9 loop.
echo "== on PostgreSQL: the store, the failover suite, the kill -9 loop"
export TANDEM_TEST_STORE=postgres
cargo test -p tandem-store --all-targets --locked
cargo test -p tandem-engine --test failover --locked
cargo test -p tandem --test crash --locked -- kill_9_during_operations_loses_and_duplicates_nothing
unset TANDEM_TEST_STORE
