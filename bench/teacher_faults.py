"""Teacher faults: a clean run and a fault-ridden run side by side, on the fault server.

Each run gets a fresh fault server in its own process (loopback, ``--latency`` 0.2 s) and synthesizes
``--prompts`` 500 rows with at most ``--in-flight`` 64 requests out (alttrain: the synthesis engine,
structured output, a fresh cache, the teacher config's default retry policy). In the faulty run every
prompt carries a seeded script of faults (``[[faults:...]]``): each try of a request is a 429
(``Retry-After: --retry-after``, the fault server's 0.05 s), a 500 or a malformed 200 with probability
``--rate`` 0.1 each, else answered (at most 6 faults per prompt, so alttrain's default 6 retries see
every row through), so about 10% of all requests get each fault, and every contender meets the same
faults on the same prompts and tries. No client can beat the chain of the row whose faults come last:
with seed 0, row 389 needs six tries in a row (five of them faults, four 429s), started around 0.9 of
the clean wall; so on a fast, quiet machine (clean ~2.6 s) the ratio is bound by that chain.

Per contender and run it prints: rows answered, retries (requests re-sent), requests sent per row as
the server counted them and what the faults force (1 + faults scripted per row: what a client that
retries every fault until answered must send), wall seconds and the p50/p99 row latency (seconds from
the start until a row's answer; rows unanswered are left out), each the median of ``--rounds`` 5
interleaved runs (the development VM is shared, and its speed swings from run to run), and the retries by
cause (the faults the server served). Then ``faulty_vs_clean``, the median over the rounds of alttrain's
faulty wall over its clean wall in the same round, and the floor (``ideal_client``): the walls of an ideal
client with no overhead and no backoff on the same scripts, in each slot order, and the ratio each would give
with alttrain's own fixed overhead (its clean wall minus the ideal clean wall) added to both runs.

    .venv/bin/python bench/teacher_faults.py [--prompts 500] [--in-flight 64] [--latency 0.2] [--seed 0]
        [--backoff-base S --backoff-max S] [--distilabel-python /tmp/distilabel/bin/python]
        [--curator-python /tmp/curator/bin/python]

The peers run from their own venvs (see ``bench/contenders.py``) with their own retry settings.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
from contenders import run_contender
from ideal_client import ORDERS, ideal_wall

from alttrain.llm.config import TeacherConfig
from alttrain.records import conform
from alttrain.structure import StructureSpec
from alttrain.synthesis.config import SynthesisConfig
from alttrain.synthesis.engine import synthesize_cached
from alttrain.testing import Fault, FaultPlan, FaultServerProcess

#: the faults of the faulty run, each drawn with probability ``--rate`` per try
FAULTS = (Fault.RATE_LIMIT, Fault.SERVER_ERROR, Fault.MALFORMED_JSON)
#: faults scripted for one prompt at most (alttrain's default max_retries: every row can be answered)
MOST_FAULTS = 6
#: peer contender scripts by the option naming their Python
PEERS = {"distilabel": "distilabel_contender.py", "curator": "curator_contender.py"}


@dataclass
class RunResult:
    """One contender's run: rows answered, requests the server got, wall seconds, latencies of answered rows."""

    rows: int
    sent: int
    seconds: float
    latencies: list[float]
    faults: Counter[str] = field(default_factory=Counter)  # faults the server served, by kind


def fault_scripts(count: int, rate: float, seed: int) -> list[list[Fault]]:
    """Per prompt, the faults its first tries get (each try: each fault with probability ``rate``, else ok)."""
    draw = random.Random(seed)
    scripts = []
    for _ in range(count):
        script: list[Fault] = []
        while len(script) < MOST_FAULTS and (roll := draw.random()) < rate * len(FAULTS):
            script.append(FAULTS[int(roll / rate)])
        scripts.append(script)
    return scripts


def bench_prompts(scripts: list[list[Fault]], tag: str) -> list[dict[str, str]]:
    """One benign stand-in prompt per script, carrying its faults as a marker."""
    prompts = []
    for i, script in enumerate(scripts):
        marker = f" [[faults:{','.join(script)}]]" if script else ""
        prompts.append({"id": f"{tag}-{i}", "prompt": f"[{tag}] What is {i} plus {i + 1}?{marker}"})
    return prompts


def alttrain_run(base_url: str, args: argparse.Namespace, prompts: list[dict[str, str]]) -> RunResult:
    """Synthesize every prompt with the engine (fresh cache; the teacher's retry policy, backoff as asked)."""
    backoff = {"backoff_base_s": args.backoff_base, "backoff_max_s": args.backoff_max}
    teacher = TeacherConfig(backend="openai", model="bench", base_url=base_url, concurrency=args.in_flight,
                            timeout_s=60, **{name: value for name, value in backoff.items() if value is not None})
    frame = conform(pl.DataFrame([{**prompt, "label": "benign", "category": "bench", "source": "bench",
                                   "license": "none"} for prompt in prompts]), "prompts")
    latencies: list[float] = []
    started = time.perf_counter()

    def on_row(row: Mapping[str, Any], _: object) -> None:
        if row["status"] == "ok":
            latencies.append(time.perf_counter() - started)

    with tempfile.TemporaryDirectory() as folder:
        outcome = asyncio.run(synthesize_cached(frame, SynthesisConfig(teacher=teacher), StructureSpec(),
                                                Path(folder) / "cache.sqlite", on_row=on_row))
    return RunResult(len(latencies), outcome.stats.sent, time.perf_counter() - started, latencies)


def run_on_fresh_server(
    contender: str, python: str | None, args: argparse.Namespace, prompts: list[dict[str, str]]
) -> RunResult:
    """Run one contender on its own fault server (so the server's counts are its alone)."""
    plan = FaultPlan(latency_s=args.latency, retry_after_s=args.retry_after)
    with FaultServerProcess(plan) as server:
        if python is None:
            result = alttrain_run(server.base_url, args, prompts)
        else:
            printed = run_contender(python, PEERS[contender], server.base_url, args.in_flight, prompts)
            result = RunResult(int(printed["rows"]), 0, float(printed["seconds"]), [])
        stats = server.stats()
        result.sent, result.faults = stats.completions, stats.faults
    return result


def median_run(results: list[RunResult]) -> RunResult:
    """The run of median wall time (its rows, requests, latencies and faults), with the median wall seconds."""
    by_wall = sorted(results, key=lambda result: result.seconds)
    middle = by_wall[len(by_wall) // 2]
    return RunResult(middle.rows, middle.sent, statistics.median(result.seconds for result in results),
                     middle.latencies, middle.faults)


def row_line(contender: str, run: str, result: RunResult, prompts: int, forced: float) -> str:
    """One table row."""
    def seconds(value: float | None) -> str:
        return f"{value:8.2f}" if value is not None else f"{'-':>8}"

    p50 = statistics.median(result.latencies) if result.latencies else None
    p99 = statistics.quantiles(result.latencies, n=100)[98] if len(result.latencies) > 1 else None
    return (f"{contender:<11} {run:<6} {result.rows:>4}/{prompts:<4} {result.sent - prompts:>7} "
            f"{result.sent / prompts:>8.2f} {forced:>10.2f} {seconds(result.seconds)} {seconds(p50)} {seconds(p99)}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--prompts", type=int, default=500)
    parser.add_argument("--in-flight", type=int, default=64)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--rate", type=float, default=0.1, help="probability of each fault per try")
    parser.add_argument("--retry-after", type=float, default=FaultPlan().retry_after_s,
                        help="seconds a 429 asks the client to wait (default: the fault server's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved runs of each; medians are shown (a busy VM)")
    parser.add_argument("--backoff-base", type=float, help="alttrain's backoff_base_s (default: the config's)")
    parser.add_argument("--backoff-max", type=float, help="alttrain's backoff_max_s (default: the config's)")
    for peer in PEERS:
        parser.add_argument(f"--{peer}-python", help=f"a Python with {peer} installed (optional contender)")
    args = parser.parse_args()
    scripts = {"clean": [[] for _ in range(args.prompts)], "faulty": fault_scripts(args.prompts, args.rate, args.seed)}
    contenders = {"alttrain": None} | {
        peer: getattr(args, f"{peer}_python") for peer in PEERS if getattr(args, f"{peer}_python")
    }
    print(f"{args.prompts} prompts, {args.in_flight} in flight, latency {args.latency} s, faults per try "
          f"{args.rate:.0%} each of {', '.join(FAULTS)} (Retry-After {args.retry_after} s), seed {args.seed}, "
          f"median of {args.rounds}")
    print(f"{'contender':<11} {'run':<6} {'rows':>9} {'retries':>7} {'sent/row':>8} {'forced/row':>10} "
          f"{'wall_s':>8} {'p50_s':>8} {'p99_s':>8}")
    ratios: list[float] = []
    clean_wall: float | None = None
    for contender, python in contenders.items():
        prompts = {run: bench_prompts(run_scripts, f"{contender}-{run}") for run, run_scripts in scripts.items()}
        rounds = [{run: run_on_fresh_server(contender, python, args, prompts[run]) for run in scripts}
                  for _ in range(args.rounds)]  # interleaved, so a busy spell of the VM hits both runs
        for run, run_scripts in scripts.items():
            median = median_run([results[run] for results in rounds])
            forced = 1 + sum(map(len, run_scripts)) / args.prompts
            print(row_line(contender, run, median, args.prompts, forced), flush=True)
        if contender == "alttrain":
            ratios = [results["faulty"].seconds / results["clean"].seconds for results in rounds]
            clean_wall = statistics.median(results["clean"].seconds for results in rounds)
            served = sorted(rounds[0]["faulty"].faults.items())
            causes = ", ".join(f"{kind} {count}" for kind, count in served if kind != Fault.OK)
            print(f"retries by cause (faults served, faulty run): {causes}")
    print(f"faulty_vs_clean: {statistics.median(ratios):.2f} (per round: {', '.join(f'{r:.2f}' for r in ratios)})")
    if clean_wall is not None:
        print(floor_line(scripts, args, clean_wall))


def floor_line(scripts: dict[str, list[list[Fault]]], args: argparse.Namespace, clean_wall: float) -> str:
    """The ideal client's walls (``ideal_client``) and the ratio each would give with alttrain's overhead.

    The overhead is alttrain's clean wall minus the ideal client's clean wall (start-up, CPU): added to both
    runs, it is what the ratio of a client as fast as the ideal one, but with alttrain's fixed costs, would be.
    """
    def wall(run: str, order: str) -> float:
        return ideal_wall(scripts[run], order, in_flight=args.in_flight, latency=args.latency,
                          retry_after=args.retry_after)

    ideal_clean = wall("clean", "retries_first")
    overhead = max(0.0, clean_wall - ideal_clean)
    parts = [f"{order} {wall('faulty', order):.2f} s ({(wall('faulty', order) + overhead) / clean_wall:.2f})"
             for order in ORDERS]
    return (f"ideal client, no backoff, no overhead (clean {ideal_clean:.2f} s; in brackets the ratio with "
            f"alttrain's {overhead:.2f} s of overhead): faulty {', '.join(parts)}")


if __name__ == "__main__":
    main()
