"""The quickstart's cost: wall time per stage, trained tokens/s and peak memory of `alttrain run`.

    python bench/quickstart.py                                   # configs/quickstart.yaml, fresh run dir
    python bench/quickstart.py --baseline-config old.yaml        # a second config side by side, with ratios
    python bench/quickstart.py --keep runs/bench                 # keep the run directories (eval reports)

Each config runs as the README runs it (`python -m alttrain run --config C --run-dir D --force`) in its own
process; the stage times come from RUN/.stages/*.json, the training throughput from model/train_report.json,
the peak resident memory of each run from its own rusage (os.wait4). Runs are sequential: with two configs,
the ratios compare two runs of one hour on one machine (its speed swings from hour to hour).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STAGES = ("prompts", "synthesize", "teacher_probe", "curate", "datasheet", "train", "eval")


def run(config: Path, run_dir: Path, command: tuple[str, ...] = ("run", "--force")) -> dict[str, float]:
    """Run the whole loop (or the one stage ``command`` names) once; return wall seconds per stage, the
    total, tokens/s and peak RSS (GiB).

    The peak is this child's own (``os.wait4``), not the maximum over every child run so far.
    """
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out:
        argv = ["-m", "alttrain", *command, "--config", str(config), "--run-dir", str(run_dir)]
        child = subprocess.Popen([sys.executable, *argv], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, text=True)
        _, status, usage = os.wait4(child.pid, 0)  # reaps it: tell the Popen object
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            out.seek(0)
            sys.exit(f"{config}: alttrain run failed\n{out.read()[-4000:]}")
    peak_kib = usage.ru_maxrss  # KiB on Linux
    figures = {"wall": wall, "peak_rss_gib": peak_kib / 2**20}
    for stage in STAGES:
        stamp = run_dir / ".stages" / f"{stage}.json"
        figures[stage] = json.loads(stamp.read_text())["seconds"] if stamp.exists() else 0.0
    report = json.loads((run_dir / "model" / "train_report.json").read_text())
    figures["trained_tokens_per_s"] = report["trained_tokens_per_second"]
    figures["input_tokens_per_s"] = report["input_tokens_per_second"]
    figures["train_steps"] = report["steps"]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "quickstart.yaml")
    parser.add_argument("--baseline-config", type=Path, help="a second config, run after the first")
    parser.add_argument("--keep", type=Path, help="write the run directories here (default: a deleted temp dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="alttrain-bench-quickstart-") as scratch:
        runs = args.keep or Path(scratch)
        results = {"quickstart": run(args.config, runs / "quickstart")}
        if args.baseline_config:
            results["baseline"] = run(args.baseline_config, runs / "baseline")
    names = list(results)
    ratio = "  quickstart/baseline" if len(names) > 1 else ""
    print(f"{'figure':<22}" + "".join(f"{name:>14}" for name in names) + ratio)
    for key in (*STAGES, "wall", "train_steps", "trained_tokens_per_s", "input_tokens_per_s", "peak_rss_gib"):
        values = [results[name][key] for name in names]
        line = f"{key:<22}" + "".join(f"{value:>14.2f}" for value in values)
        if len(values) > 1 and values[1]:
            line += f"  {values[0] / values[1]:.3f}"
        print(line)


if __name__ == "__main__":
    main()
