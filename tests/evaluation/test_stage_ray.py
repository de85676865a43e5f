"""evaluation.stage with `executor: {kind: ray}` on a real one-node Ray cluster (loopback) against the fault server."""

import os

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # before Ray is imported: bind to 127.0.0.1 only

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
import ray

from alttrain.config import RunConfig, parse_config
from alttrain.evaluation.benchmarks import HarmBenchBenchmark
from alttrain.evaluation.stage import run_evaluation
from alttrain.llm.config import ClientOptions
from alttrain.records import conform, write_stage
from alttrain.testing import Fault, FaultPlan, FaultServer, teacher_config

COMPARED = ["benchmark", "id", "model", "output", "completion_tokens", "finish_reason", "error", "structure_ok",
            "refused"]  # fmt: skip


@pytest.fixture(scope="module", autouse=True)
def cluster() -> Iterator[None]:
    """One local cluster for the module (2 CPUs, no dashboard); the executor finds it up and leaves it."""
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
    yield
    ray.shutdown()


def endpoint_model(base_url: str, **overrides: object) -> dict:
    """A model under test at the fault server, written as a teacher client is (no sampling: evaluation's)."""
    return teacher_config(base_url, **overrides).model_dump(include=set(ClientOptions.model_fields))


def config(steady: str, flaky: str, tmp_path: Path, executor: str) -> RunConfig:
    pool = {"actors": 2, "batch_size": 3, "node_cache_dir": str(tmp_path / "nodes"), "local_cpus": 2}
    return parse_config({
        "name": "ray-eval",
        "prompts": {"sources": [{"kind": "harmbench", "n": 5}]},
        "evaluation": {
            "models": {"steady": endpoint_model(steady, concurrency=4),
                       "flaky": endpoint_model(flaky, model="flaky", max_retries=0)},
            "baseline": "steady",
            "benchmarks": [{"kind": "harmbench", "n": 6}, {"kind": "reasoning_gym", "n": 4}],
            "bootstrap_resamples": 100,
            "executor": {"kind": executor, **pool} if executor == "ray" else {"kind": executor},
        },
    })


def run_dir(path: Path) -> Path:
    trained = HarmBenchBenchmark().load().head(4).select("id", "prompt", "label", "source")
    path.mkdir(parents=True)
    write_stage(conform(trained, "prompts"), path / "prompts.parquet", "prompts")
    return path


def test_ray_generation_matches_the_local_run_and_accounts_per_actor(tmp_path: Path) -> None:
    local_dir, ray_dir = run_dir(tmp_path / "local"), run_dir(tmp_path / "ray")
    with FaultServer() as steady, FaultServer(FaultPlan(by_order={2: Fault.BAD_REQUEST})) as flaky:
        local = run_evaluation(config(steady.base_url, flaky.base_url, tmp_path, "local"), local_dir).outcome
    with FaultServer() as steady, FaultServer(FaultPlan(by_order={2: Fault.BAD_REQUEST})) as flaky:
        cfg = config(steady.base_url, flaky.base_url, tmp_path, "ray")
        on_ray = run_evaluation(cfg, ray_dir).outcome
        report = json.loads((ray_dir / "eval" / "scaleout.json").read_text())
        assert steady.stats().completions == flaky.stats().completions == 10  # nothing sent twice across actors
        again = run_evaluation(cfg, ray_dir).outcome  # every answer was merged into RUN/eval/cache.sqlite
        # only the refused request (never cached) goes out again, and is answered this time
        assert (steady.stats().completions, flaky.stats().completions) == (10, 11)
    assert again.rows["error"].null_count() == again.rows.height

    # the flaky server refuses whichever request reaches it second: one failed row per run, not the same item
    for outcome in (local, on_ray):
        flaky_rows = outcome.rows.filter(pl.col("model") == "flaky")
        assert flaky_rows["error"].null_count() == 9
        assert flaky_rows["error"].drop_nulls()[0].startswith("PermanentTeacherError")
    is_steady = pl.col("model") == "steady"
    assert on_ray.rows.filter(is_steady).select(COMPARED).equals(local.rows.filter(is_steady).select(COMPARED))
    steady_metrics = on_ray.metrics.filter(pl.col("model") == "steady")
    assert steady_metrics.equals(local.metrics.filter(pl.col("model") == "steady"))
    assert again.rows.filter(is_steady).select(COMPARED).equals(on_ray.rows.filter(is_steady).select(COMPARED))

    assert report["executor"] == "ray" and set(report["models"]) == {"steady", "flaky"}
    steady_pool = report["models"]["steady"]
    assert (steady_pool["executor"], steady_pool["actors"], steady_pool["rows"]) == ("ray", 2, 10)
    assert sum(actor["rows"] for actor in steady_pool["per_actor"]) == 10
    assert sum(actor["sent"] for actor in steady_pool["per_actor"]) == steady_pool["requests_sent"] == 10
    assert not (local_dir / "eval" / "scaleout.json").exists()
    rerun = json.loads((ray_dir / "eval" / "scaleout.json").read_text())["models"]["steady"]
    assert (rerun["rows_from_cache"], rerun["requests_sent"]) == (10, 0)  # answered on the driver, no actor


def test_ray_needs_a_model_whose_backend_runs_on_actors() -> None:
    with pytest.raises(ValueError, match="runs models whose backend supports Ray \\(not transformers\\) away from"):
        parse_config({"name": "x", "evaluation": {"executor": {"kind": "ray"}}})
