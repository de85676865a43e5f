"""Training throughput: unsloth against plain TRL on the same model, data and recipe, side by side.

Each variant runs ``alttrain.training.run.train_model`` in its own process (unsloth patches
transformers when imported, so the TRL baseline must never share a process with it) and the table
prints trained tokens/s, s/step and peak memory with the ratio to the first (baseline) variant.

Like with like: the TRL baseline trains with gradient checkpointing (``gradient_checkpointing: true``),
as unsloth always does (its own, ``use_gradient_checkpointing="unsloth"``). Padding-free batching: unsloth
turns it on by itself on a GPU unless the trainer is handed an explicit ``data_collator`` (unsloth/trainer.py:
``blocked = data_collator is not None or ...``), so alttrain's training stage passes none; TRL's own
padding-free mode needs a flash-attention kernel (with SDPA it attends across the flattened examples), which
the GPU image lacks, so the baseline stays padded.

    python bench/train_gpu.py --prepare DIR         # on a CPU machine: stand-in data + SmolLM2 tokenizer
    python bench/train_gpu.py --assets DIR          # on the GPU: trl-bf16 vs unsloth-16bit vs unsloth-qlora
    python bench/train_gpu.py --dry-run [--unsloth-python .venv-unsloth/bin/python]
                                                    # on a CPU: the TRL path (and unsloth's CPU fallback) for
                                                    # 2 steps on a tiny model
    python bench/train_gpu.py --assets DIR --cpu --model smollm2-embedded --steps 6 --batch 4 --max-length 384 \\
        --repeat 2
                                                    # on a CPU: bf16 with PEFT's fp32 input casts (the libraries'
                                                    # default) vs alttrain's bf16, fp32, and TRL's checkpointing

The model is a randomly initialised Llama of SmolLM2-135M's shape (same compute per token as the
real one, no weights to carry), unless ``--model`` names a checkpoint or ``smollm2-embedded``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

GPU_VARIANTS = {  # name -> (backend, training-config overrides); the first is the baseline
    "trl-bf16-lora": ("hf", {"gradient_checkpointing": True}),
    "unsloth-16bit-lora": ("unsloth", {"load_in_4bit": False}),
    "unsloth-qlora-4bit": ("unsloth", {"load_in_4bit": True}),
}
#: a bench-only override: let PEFT cast each adapter input to fp32 as it does by default (under 16-bit
#: autocast alttrain's hf backend passes the inputs on uncast; the loss and gradients are the same)
PEFT_INPUT_CASTS = "peft_input_casts"
CPU_VARIANTS = {
    "bf16-peft-input-casts": ("hf", {"precision": "bf16", PEFT_INPUT_CASTS: True}),
    "alttrain-bf16": ("hf", {"precision": "bf16"}),
    "alttrain-fp32": ("hf", {"precision": "fp32"}),
    "trl-default-checkpointing": ("hf", {"precision": "bf16", "gradient_checkpointing": True}),
}
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja")


def prepare(assets: Path, harmful: int, benign: int) -> None:
    """Write the stand-in dataset and the SmolLM2 tokenizer files into ``assets`` (needs the CPU venv)."""
    from alttrain.models.source import EMBEDDED_MODEL, resolve_model
    from alttrain.testing.standin import save_dataset, standin_records
    from alttrain.training.config import TrainingConfig

    assets.mkdir(parents=True, exist_ok=True)
    save_dataset(standin_records(harmful=harmful, benign=benign), assets / "dataset")
    source = Path(resolve_model(EMBEDDED_MODEL, TrainingConfig().cache_dir))
    (assets / "tokenizer").mkdir(exist_ok=True)
    for name in TOKENIZER_FILES:
        shutil.copy(source / name, assets / "tokenizer" / name)
    print(f"prepared {assets}: dataset/ ({harmful} harmful + {benign} benign), tokenizer/")


def run_one(args: argparse.Namespace) -> None:
    """Train one variant in this process and write its report as JSON to ``args.result``."""
    from alttrain.structure import StructureSpec
    from alttrain.training.config import TrainingConfig
    from alttrain.training.run import train_model

    backend, overrides = {**GPU_VARIANTS, **CPU_VARIANTS}[args.variant]
    os.environ["ALTTRAIN_TRAIN_BACKEND"] = backend  # chosen before anything imports transformers
    overrides = dict(overrides)
    if overrides.pop(PEFT_INPUT_CASTS, False):
        from alttrain.training.backends import hf_backend

        hf_backend.keep_adapter_inputs_16bit = lambda model: None
    config = TrainingConfig(
        backend=backend, model=args.model_path, max_steps=args.steps, epochs=1000, batch_size=args.batch,
        grad_accum=1, max_length=args.max_length, learning_rate=1e-4, warmup_steps=5, **overrides,
    )
    with tempfile.TemporaryDirectory() as out:
        result = train_model(config, args.assets / "dataset", Path(out), spec=StructureSpec())
        Path(args.result).write_text(result.report_path.read_text())


def build_model(args: argparse.Namespace, work: Path) -> str:
    """The model path to train: a named one, or a random Llama of the chosen shape built here."""
    if args.model:
        return args.model
    from alttrain.testing.random_model import build_random_model

    return str(build_random_model(work / "model", args.assets / "tokenizer", shape=args.shape))


def compare(args: argparse.Namespace, variants: dict[str, tuple[str, dict]]) -> list[dict]:
    """Run every variant in a fresh process, ``--repeat`` times interleaved; print the side-by-side table.

    Each variant's row is its median run by trained tokens/s (interleaving spreads a noisy machine's
    load over all variants alike).
    """
    runs: dict[str, list[dict]] = {name: [] for name in variants}
    with tempfile.TemporaryDirectory() as work_dir:
        work = Path(work_dir)
        model_path = build_model(args, work)
        for round_ in range(args.repeat):
            for name, (backend, _) in variants.items():
                result = work / f"{name}-{round_}.json"
                python = args.unsloth_python if backend == "unsloth" and args.unsloth_python else sys.executable
                command = [python, __file__, "--run-one", name, "--assets", str(args.assets),
                           "--model-path", model_path, "--steps", str(args.steps), "--batch", str(args.batch),
                           "--max-length", str(args.max_length), "--result", str(result)]
                done = subprocess.run(command, check=False)
                if done.returncode != 0:
                    print(f"{name}: failed with exit code {done.returncode}")
                    continue
                report = json.loads(result.read_text())
                runs[name].append({"variant": name, **{k: report[k] for k in (
                    "backend", "precision", "optimizer", "steps", "seconds_per_step", "trained_tokens",
                    "trained_tokens_per_second", "input_tokens_per_second", "peak_memory_bytes",
                    "peak_memory_kind", "final_loss", "versions")}})
    rows = [median_run(found) for found in runs.values() if found]
    print_table(rows, args)
    return rows


def median_run(found: list[dict]) -> dict:
    """The run with the median trained tokens/s, annotated with every run's s/step."""
    ordered = sorted(found, key=lambda run: run["trained_tokens_per_second"])
    return {**ordered[len(ordered) // 2], "all_seconds_per_step": [run["seconds_per_step"] for run in found]}


def print_table(rows: list[dict], args: argparse.Namespace) -> None:
    """Print tokens/s, s/step and memory per variant, with ratios to the first row."""
    if not rows:
        print("no variant finished")
        return
    base = rows[0]
    print(f"\nbatch {args.batch}, max_length {args.max_length}, {args.steps} steps, median of {args.repeat} "
          f"interleaved run(s); baseline = {base['variant']}")
    print(f"{'variant':28} {'precision':10} {'s/step':>8} {'trained tok/s':>14} {'ratio':>6} "
          f"{'input tok/s':>12} {'peak GiB':>9} {'mem ratio':>9}")
    for row in rows:
        print(f"{row['variant']:28} {row['precision']:10} {row['seconds_per_step']:8.3f} "
              f"{row['trained_tokens_per_second']:14.1f} "
              f"{row['trained_tokens_per_second'] / base['trained_tokens_per_second']:6.2f} "
              f"{row['input_tokens_per_second']:12.1f} {row['peak_memory_bytes'] / 2**30:9.2f} "
              f"{row['peak_memory_bytes'] / base['peak_memory_bytes']:9.2f}")
    for row in rows[1:]:
        if row["backend"] == "unsloth" and base["backend"] == "hf":
            speed = row["trained_tokens_per_second"] / base["trained_tokens_per_second"]
            memory = row["peak_memory_bytes"] / base["peak_memory_bytes"]
            print(f"{row['variant']} vs {base['variant']}: {speed:.2f}x trained tokens/s at {memory:.2f}x peak memory "
                  f"(goal: >= 2x at <= 1x)")


def main() -> None:
    """Parse arguments and run the chosen mode."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prepare", type=Path, help="write assets (dataset, tokenizer) to this directory")
    parser.add_argument("--assets", type=Path, help="assets written by --prepare")
    parser.add_argument("--dry-run", action="store_true", help="2 TRL steps on a tiny model on this CPU")
    parser.add_argument("--cpu", action="store_true", help="compare the CPU variants instead of the GPU ones")
    parser.add_argument("--model", help="a checkpoint path or smollm2-embedded (default: random SmolLM2 shape)")
    parser.add_argument("--shape", default="smollm2-135m", help="random model shape (see random_model.SHAPES)")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=1, help="interleaved runs per variant (median reported)")
    parser.add_argument("--harmful", type=int, default=100)
    parser.add_argument("--benign", type=int, default=100)
    parser.add_argument("--json", type=Path, help="also write the comparison rows here")
    parser.add_argument("--unsloth-python", help="the interpreter for unsloth variants (default: this one)")
    parser.add_argument("--run-one", dest="variant", help=argparse.SUPPRESS)
    parser.add_argument("--model-path", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.variant:
        run_one(args)
        return
    if args.prepare:
        prepare(args.prepare, args.harmful, args.benign)
        return
    if args.dry_run:
        with tempfile.TemporaryDirectory() as assets:
            args.assets = Path(assets)
            prepare(args.assets, harmful=4, benign=4)
            args.shape, args.steps, args.batch = "tiny", 2, 2
            names = ["trl-bf16-lora"] + (["unsloth-16bit-lora"] if args.unsloth_python else [])
            rows = compare(args, {name: GPU_VARIANTS[name] for name in names})
            if len(rows) != len(names):
                sys.exit(1)
    else:
        if args.assets is None:
            parser.error("--assets is required (write them with --prepare)")
        rows = compare(args, CPU_VARIANTS if args.cpu else GPU_VARIANTS)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    if not rows:
        sys.exit(1)


if __name__ == "__main__":
    main()
