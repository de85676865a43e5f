#!/usr/bin/env bash
# unsloth vs plain TRL training throughput on one GPU, prepared here and run there in ONE device call.
#
#   bash bench/train_gpu.sh prepare   # here (CPU, PyPI reachable): wheels -> a pruned site tarball + assets
#   bash bench/train_gpu.sh run       # on the GPU machine (no network), from the repository root
#   bash bench/train_gpu.sh dry-run   # here: syntax check + the TRL path for 2 steps on a tiny model (CPU), and
#                                     # unsloth's CPU fallback the same way when .venv-unsloth exists
#
# Device call (carry the one ignored folder `.cache/train_gpu`, ~50 MiB; `.cache/` is git-ignored):
#   run(command="bash bench/train_gpu.sh run", carry=[".cache/train_gpu"], timeout_s=540)
#
# What travels (.cache/train_gpu/site.tgz), installed --no-deps into /tmp/alttrain-site on the GPU machine,
# whose image already has torch 2.11 (cu130), transformers 5.17, accelerate, triton, numpy, pyarrow, fsspec,
# pandas, sentencepiece, protobuf, einops, psutil, matplotlib, jinja2, pyyaml, typer, rich:
#   unsloth + unsloth_zoo (unsloth's web "studio/" removed), bitsandbytes (only its CUDA 13 libraries kept),
#   trl==1.15.0 (unsloth's pin: transformers<=5.17, trl<=1.15, datasets<5), datasets<5 + dill + multiprocess,
#   peft, torchao, cut_cross_entropy, tyro + docstring_parser + typeguard + shtab, msgspec, json5,
#   nest_asyncio, structlog, hf_transfer, diffusers, pydantic + pydantic_core + annotated_types +
#   typing_inspection (alttrain's config). Plus assets/: the stand-in dataset (200 rows) and the SmolLM2
#   tokenizer files; the model is a random Llama of SmolLM2-135M's shape built there (no weights carried).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=.cache/train_gpu
steps="${STEPS:-300}"

wheels=(
    unsloth==2026.10.9 unsloth_zoo==2026.10.9 "bitsandbytes>=0.45.5,!=0.46.0,!=0.48.0" trl==1.15.0
    "datasets>=4.6,<5" dill multiprocess "peft>=0.18" torchao cut_cross_entropy tyro docstring_parser typeguard
    shtab msgspec json5 nest_asyncio structlog hf_transfer diffusers pydantic pydantic_core annotated_types
    typing_inspection
)
platform=(--python-version 3.12 --implementation cp --only-binary=:all: --platform manylinux_2_28_x86_64
          --platform manylinux_2_27_x86_64 --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64
          --platform manylinux2014_x86_64)

case "${1:-}" in
prepare)
    rm -rf "$dir" && mkdir -p "$dir/wheels"
    .venv/bin/python -m pip download --quiet --no-deps "${platform[@]}" -d "$dir/wheels" "${wheels[@]}"
    .venv/bin/python -m pip install --quiet --no-deps --no-compile "${platform[@]}" --target "$dir/site" \
        "$dir"/wheels/*.whl
    # Prune what a CUDA 13 torch never loads: other CUDA/ROCm builds of bitsandbytes, unsloth's web studio.
    find "$dir/site/bitsandbytes" -name 'libbitsandbytes_*.so' ! -name '*cuda13*' -delete
    rm -rf "$dir/site/studio" "$dir/site/bin"
    tar czf "$dir/site.tgz" -C "$dir" site
    rm -rf "$dir/site" "$dir/wheels"
    .venv/bin/python bench/train_gpu.py --prepare "$dir/assets"
    du -sh "$dir" "$dir/site.tgz"
    ;;
run)
    [ -f "$dir/site.tgz" ] || { echo "missing $dir/site.tgz: run 'bash bench/train_gpu.sh prepare' first" >&2; exit 2; }
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
    rm -rf /tmp/alttrain-site && mkdir -p /tmp/alttrain-site
    tar xzf "$dir/site.tgz" -C /tmp/alttrain-site --strip-components=1
    export PYTHONPATH="/tmp/alttrain-site:$PWD" PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
    out="${OUT:-/tmp}"
    python3 bench/train_gpu.py --assets "$dir/assets" --steps "$steps" --json "$out/train_gpu.json" 2>&1 \
        | tee "$out/train_gpu.log"
    ;;
dry-run)
    bash -n "$0"
    .venv/bin/python -m py_compile bench/train_gpu.py
    unsloth=()
    if [ -x .venv-unsloth/bin/python ]; then unsloth=(--unsloth-python .venv-unsloth/bin/python); fi
    .venv/bin/python bench/train_gpu.py --dry-run "${unsloth[@]}"
    ;;
*)
    echo "usage: bash bench/train_gpu.sh prepare|run|dry-run" >&2
    exit 2
    ;;
esac
