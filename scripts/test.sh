#!/usr/bin/env bash
# Runs alttrain's checks: lint, then the whole test suite (tests start the servers they need themselves).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/alttrain ] || bash scripts/setup.sh
.venv/bin/ruff check alttrain tests bench
.venv/bin/python -m pytest -q "$@"
