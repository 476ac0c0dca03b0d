#!/usr/bin/env bash
# Runs every test, after installing what the tests need on a fresh machine:
# xmllint (schema validation) and a Python virtual environment with the
# independent ONVIF peer onvif-zeep-async and schemathesis (which tests the API
# against its OpenAPI document). Safe to run again: installs are skipped when
# present.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v xmllint >/dev/null 2>&1; then
  echo "== installing libxml2-utils (xmllint)"
  if [ "$(id -u)" -eq 0 ]; then apt_get=(apt-get); else apt_get=(sudo apt-get); fi
  "${apt_get[@]}" update -qq
  DEBIAN_FRONTEND=noninteractive "${apt_get[@]}" install -y -qq libxml2-utils >/dev/null
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
