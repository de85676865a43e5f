#!/usr/bin/env bash
# Runs alttrain's checks: lint, then the whole test suite (tests start the servers they need themselves).
#   bash scripts/test.sh [pytest args]   the main suite in .venv (the vllm/unsloth tests are deselected: pyproject)
#   bash scripts/test.sh extras          the vllm and unsloth tests, each in its own venv (built if missing), the
#                                        template checker under both venvs' transformers, the GPU bench's dry run
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/alttrain ] || bash scripts/setup.sh
if [ "${1:-}" = "extras" ]; then
    # A missing or broken extra fails here (set -e): it is never skipped.
    bash scripts/setup_extras.sh vllm,unsloth
    export VLLM_NO_USAGE_STATS=1 HF_HUB_OFFLINE=1
    for marker in vllm unsloth; do
        mapfile -t files < <(grep -rlE --include='test_*.py' "pytest\.mark\.$marker\b" tests | sort)
        [ ${#files[@]} -gt 0 ] || { echo "no tests marked $marker" >&2; exit 1; }
        ".venv-$marker/bin/python" -m pytest -q -p no:cacheprovider -m "$marker" "${files[@]}"
        # The template checker and the backend choice under this venv's transformers (vllm: 5.19, unsloth: 5.17).
        ".venv-$marker/bin/python" -m pytest -q -p no:cacheprovider tests/training/test_template_check.py \
            tests/training/test_backends.py
    done
    bash bench/train_gpu.sh dry-run
    exit 0
fi
.venv/bin/ruff check alttrain tests bench
.venv/bin/python -m pytest -q "$@"
