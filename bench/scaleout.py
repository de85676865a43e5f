"""Scale-out overhead: the same prompts through the local engine and through Ray with 1 and 2 actors.

Every run sends N fault-free requests to the fault server (in its own process) at a fixed latency, with
the same endpoint concurrency (Ray actors share it: 2 actors get half each), each into a fresh cache, so
the three runs ask the endpoint for the same thing and only the executor differs. ``ray_vs_local`` is
the local run's wall time over the Ray run's (1.0: no overhead), the median over ``--rounds`` rounds, each
round running local, ray x1 and ray x2 one after the other (the development VM is shared: its speed swings).
The Ray time covers everything a ``synthesize`` run does (harvest, pre-pass, actor start, batches, merging
every answer into the run's cache, clean-up); starting the cluster is printed apart and not counted (a real
cluster is up before a run), nor is the wait for the previous run's actors to exit and free their CPUs.
``fixed`` is the Ray run's time outside its busiest worker's batches (harvest, pre-pass, waiting for actors,
clean-up), and ``ray_vs_local_without_fixed`` the ratio with it left out; the breakdown prints the medians of
the run's phases (``scaleout.json``'s ``phases``: harvest, pre-pass, the pass, clean-up, and when the last actor
was ready, counted from the pass's start) and who worked how many rows (with a requests budget the driver works
batches from the start of the pass while the actors start: ``work_on_driver``). On one 2-core machine the
actors, the driver and the server share the cores, so this measures Ray's overhead, not its scaling
(the README sketches that).

Two jobs: a large one bound by the endpoint's concurrency, and a small one bound by its requests-per-minute
budget (every worker charges one budget per endpoint: a worker without work leaves it to the others; a pass
of fewer rows than ``workers x batches_per_actor`` full batches is cut finer, so every worker has work):

    .venv/bin/python bench/scaleout.py [--prompts 10000] [--latency 0.2] [--concurrency 32] [--batch-size 512]
    .venv/bin/python bench/scaleout.py --prompts 250 --requests-per-minute 600
"""

from __future__ import annotations

import os

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # a single-node cluster on loopback only

import argparse
import asyncio
import logging
import statistics
import tempfile
import time
from pathlib import Path

import polars as pl
import ray

from alttrain.execution.ray import RayExecutor, RaySettings
from alttrain.llm.cache import ResponseCache
from alttrain.records import conform
from alttrain.scaleout.accounting import ScaleoutReport
from alttrain.structure import StructureSpec
from alttrain.synthesis.config import SynthesisConfig
from alttrain.synthesis.engine import synthesize_cached
from alttrain.synthesis.job import SynthesisJob
from alttrain.testing import FaultPlan, FaultServerProcess, teacher_config


def neutral_prompts(count: int, tag: str) -> pl.DataFrame:
    """``count`` distinct benign stand-in prompts (distinct per ``tag``: no run hits another's answers)."""
    rows = [{"id": f"{tag}-{i}", "prompt": f"[{tag}] What is {i} plus {i + 1}?", "label": "benign",
             "category": "bench", "source": "bench", "license": "none"} for i in range(count)]  # fmt: skip
    return conform(pl.DataFrame(rows), "prompts")


def run_local(config: SynthesisConfig, prompts: pl.DataFrame, folder: Path) -> float:
    """Seconds for the local engine over ``prompts``."""
    started = time.perf_counter()
    outcome = asyncio.run(synthesize_cached(prompts, config, StructureSpec(), folder / "local.sqlite"))
    assert (outcome.frame["status"] == "ok").all()
    return time.perf_counter() - started


def wait_for_free_cpus(timeout_s: float = 60.0) -> None:
    """Wait (not counted) until the previous run's actors have exited and every CPU is free, as a fresh run finds it."""
    deadline = time.perf_counter() + timeout_s
    while ray.available_resources().get("CPU", 0.0) < ray.cluster_resources()["CPU"] and time.perf_counter() < deadline:
        time.sleep(0.1)


def run_ray(
    config: SynthesisConfig, prompts: pl.DataFrame, folder: Path, actors: int, batch_size: int
) -> tuple[float, ScaleoutReport]:
    """Seconds for the Ray executor with ``actors`` actors, and its report."""
    settings = RaySettings(actors=actors, batch_size=batch_size, node_cache_dir=folder / "nodes")
    wait_for_free_cpus()
    started = time.perf_counter()
    with ResponseCache(folder / f"ray-{actors}.sqlite") as cache:
        execution = RayExecutor(settings, folder).run(prompts.to_dicts(), SynthesisJob(config, StructureSpec()), cache)
    assert all(row is not None and row["status"] == "ok" for row in execution.rows)
    assert execution.stats.sent == prompts.height and execution.report is not None
    return time.perf_counter() - started, execution.report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=10000)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--requests-per-minute", type=int, default=None, help="the endpoint's budget (shared)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of local, ray x1, ray x2; medians shown")
    arguments = parser.parse_args()
    n, latency, concurrency = arguments.prompts, arguments.latency, arguments.concurrency
    per_minute = arguments.requests_per_minute
    ideal = min(concurrency / latency, per_minute / 60 if per_minute else float("inf"))
    print(f"{n} prompts, {latency} s latency, {concurrency} in flight, {per_minute or 'no'} requests/minute "
          f"(ideal {ideal:.0f} rows/s), median of {arguments.rounds} rounds")
    walls: dict[str, list[float]] = {"local": [], "ray x1": [], "ray x2": []}
    fixed: dict[str, list[float]] = {"ray x1": [], "ray x2": []}
    phases: dict[str, dict[str, list[float]]] = {"ray x1": {}, "ray x2": {}}
    ratios: dict[str, list[float]] = {"ray x1": [], "ray x2": []}
    bare_ratios: dict[str, list[float]] = {"ray x1": [], "ray x2": []}
    with FaultServerProcess(FaultPlan(latency_s=latency)) as server, tempfile.TemporaryDirectory() as folder:
        teacher = teacher_config(server.base_url, concurrency=concurrency, requests_per_minute=per_minute)
        config = SynthesisConfig(teacher=teacher)
        started = time.perf_counter()
        ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
        print(f"cluster start (not counted): {time.perf_counter() - started:.1f} s")
        for round_ in range(arguments.rounds):
            (here := Path(folder) / str(round_)).mkdir()
            local = run_local(config, neutral_prompts(n, f"local{round_}"), here)
            walls["local"].append(local)
            for actors in (1, 2):
                name = f"ray x{actors}"
                seconds, report = run_ray(config, neutral_prompts(n, f"ray{actors}-{round_}"),
                                          here, actors, arguments.batch_size)
                busy = max(actor.busy_s for actor in report.per_actor)
                work = ", ".join(f"{actor.actor[:8]} {actor.rows} rows in {actor.batches} batches"
                                 for actor in report.per_actor)  # fmt: skip
                for phase, phase_s in report.phases.items():
                    phases[name].setdefault(phase, []).append(phase_s)
                walls[name].append(seconds)
                fixed[name].append(seconds - busy)
                ratios[name].append(local / seconds)
                bare_ratios[name].append(local / busy)
                print(f"  round {round_}: local {local:6.1f} s, {name} {seconds:6.1f} s (fixed {seconds - busy:.1f} s; "
                      f"{report.merged_entries} answers merged; per worker: {work})", flush=True)
        ray.shutdown()
    for name, values in walls.items():
        extra = f"  fixed {statistics.median(fixed[name]):5.1f} s" if name in fixed else ""
        print(f"{name:<7} {statistics.median(values):6.1f} s  {n / statistics.median(values):6.0f} rows/s{extra}")
    for name, parts in phases.items():
        print(f"{name} phases (median s): " + ", ".join(f"{phase} {statistics.median(values):.2f}"
                                                       for phase, values in parts.items()))  # fmt: skip
    for actors in (1, 2):
        name = f"ray x{actors}"
        label = f"{actors} actor{'s' if actors > 1 else ''}"
        print(f"ray_vs_local[{label}] = {statistics.median(ratios[name]):.2f} "
              f"(per round: {', '.join(f'{ratio:.2f}' for ratio in ratios[name])}); "
              f"ray_vs_local_without_fixed[{label}] = {statistics.median(bare_ratios[name]):.2f}")


if __name__ == "__main__":
    main()
