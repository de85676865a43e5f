"""The quickstart's claim on every variant a user's machine brings: precision, thread count, seed.

    python bench/quickstart_matrix.py                          # fp32 (+ bf16 where native), seeds 0 1, threads 1 2 4
    python bench/quickstart_matrix.py --precisions fp32 --seeds 0 --threads 2 4 --keep runs/matrix

Trains once per (precision, seed) as the README runs it (`alttrain run`, training and evaluation at the
config's thread count), then evaluates that adapter again at each other thread count in a copy of the run
directory without its eval/ (greedy outputs depend on the thread count, which the eval cache key does not
hold). Prints a row per variant: the claim's figures (tests/quickstart_claim.py), wall and peak memory of
that variant's own process, and the parts of the claim it misses. bf16 runs by default only where the CPU
computes it natively (AVX512-BF16/AMX); elsewhere it is emulated at a small fraction of fp32's speed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from quickstart import run  # noqa: E402

from alttrain.models.precision import resolve_precision  # noqa: E402
from tests.quickstart_claim import claim_failures, claim_figures  # noqa: E402

COLUMNS = (  # (figure, heading, format)
    ("harmful_base", "harm b", ".3f"), ("harmful_tuned", "harm t", ".3f"), ("harmful_delta_high", "Δ hi", ".3f"),
    ("structure_harmful", "struct h", ".2f"), ("structure_benign", "struct b", ".2f"),
    ("verdict_harmful", "verd h", ".2f"), ("verdict_benign", "verd b", ".2f"),
    ("over_refusal_base", "ovr b", ".3f"), ("over_refusal_tuned", "ovr t", ".3f"),
    ("cut_off_harmful", "cut h", ".3f"), ("cut_off_benign", "cut b", ".3f"), ("reasoning_ratio", "h/b tok", ".2f"),
    ("train", "train s", ".0f"), ("eval", "eval s", ".0f"), ("wall", "wall s", ".0f"),
    ("peak_rss_gib", "peak GiB", ".2f"),
)


def write_variant(config: dict, path: Path, precision: str, seed: int, threads: int) -> Path:
    """The config with one variant's precision (training and evaluation), run seed and eval threads."""
    variant = yaml.safe_load(yaml.safe_dump(config))
    variant["seed"] = seed
    variant["training"]["precision"] = precision
    variant["evaluation"].update(precision=precision, threads=threads)
    path.write_text(yaml.safe_dump(variant, sort_keys=False))
    return path


def evaluate_copy(trained: Path, target: Path, config: Path) -> dict[str, float]:
    """Evaluate ``trained``'s adapter under ``config`` in a copy of its run directory (fresh eval/)."""
    shutil.copytree(trained, target, ignore=lambda folder, _: ["eval"] if Path(folder) == trained else [])
    figures = run(config, target, ("eval",))
    figures["train"] = 0.0
    figures["eval"] = figures["wall"]
    return figures


def row(name: str, figures: dict[str, float], run_dir: Path) -> str:
    """One printed row: the variant, its claim figures and costs, and what it misses."""
    report = json.loads((run_dir / "eval" / "report.json").read_text())
    values = {**claim_figures(report), **figures}
    cells = "".join(f"{format(values[key], spec):>{max(len(head), 6) + 1}}" for key, head, spec in COLUMNS)
    missed = claim_failures(report)
    return f"{name:<16}{cells}  {'holds' if not missed else 'MISSES: ' + '; '.join(missed)}"


def main() -> None:
    native_bf16 = resolve_precision("auto", "cpu") == "bf16"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "quickstart.yaml")
    parser.add_argument("--precisions", nargs="+", choices=("fp32", "bf16"),
                        default=["bf16", "fp32"] if native_bf16 else ["fp32"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2, 4], help="evaluation threads")
    parser.add_argument("--keep", type=Path, help="write the run directories here (default: a deleted temp dir)")
    args = parser.parse_args()
    if not native_bf16 and "bf16" not in args.precisions:
        print("bf16: not native on this CPU (no AVX512-BF16/AMX); skipped (--precisions bf16 forces it, emulated)")
    config = yaml.safe_load(args.config.read_text())
    trained_threads = config["evaluation"].get("threads") or 2
    heading = f"{'variant':<16}" + "".join(f"{head:>{max(len(head), 6) + 1}}" for _, head, _ in COLUMNS)
    print(heading, flush=True)
    with tempfile.TemporaryDirectory(prefix="alttrain-bench-matrix-") as scratch:
        runs = args.keep or Path(scratch)
        runs.mkdir(parents=True, exist_ok=True)
        for precision in args.precisions:
            for seed in args.seeds:
                trained = runs / f"{precision}-s{seed}-t{trained_threads}"
                variant = write_variant(config, runs / f"{trained.name}.yaml", precision, seed, trained_threads)
                print(row(trained.name, run(variant, trained), trained), flush=True)
                for threads in (t for t in args.threads if t != trained_threads):
                    target = runs / f"{precision}-s{seed}-t{threads}"
                    variant = write_variant(config, runs / f"{target.name}.yaml", precision, seed, threads)
                    print(row(target.name, evaluate_copy(trained, target, variant), target), flush=True)


if __name__ == "__main__":
    main()
