"""scaleout.pool: the driver and two actors work one queue under one budget (real Ray, real HTTP on loopback)."""

import os

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # before Ray is imported: bind to 127.0.0.1 only

from pathlib import Path

from alttrain.execution.jobs import RequestJob
from alttrain.llm.cache import ResponseCache
from alttrain.llm.types import SamplingParams
from alttrain.scaleout.config import RayConfig
from alttrain.scaleout.driver import run_on_ray
from alttrain.testing import FaultPlan, FaultServer, teacher_config

PER_MINUTE = 600  # the endpoint's budget: 10 requests a second, a burst of 10 (PerMinuteLimit's one-second window)
REQUESTS = 100


def most_in_any_window(times: list[float], seconds: float) -> int:
    """The most arrivals within any ``seconds``-long window."""
    times = sorted(times)
    most, first = 0, 0
    for last, arrived in enumerate(times):
        while arrived - times[first] >= seconds:
            first += 1
        most = max(most, last - first + 1)
    return most


def test_the_driver_and_the_actors_share_one_budget_and_never_exceed_it(tmp_path: Path) -> None:
    records = [{"messages": [{"role": "user", "content": f"question {i}"}]} for i in range(REQUESTS)]
    settings = RayConfig(actors=2, local_cpus=2, node_cache_dir=tmp_path / "nodes")
    with FaultServer(FaultPlan(latency_s=0.05, record_requests=True)) as server, \
            ResponseCache(tmp_path / "cache.sqlite") as cache:  # fmt: skip
        teacher = teacher_config(server.base_url, concurrency=8, requests_per_minute=PER_MINUTE)
        run = run_on_ray(records, RequestJob(teacher, SamplingParams()), cache, settings)
        arrivals = [request.arrived for request in server.recorded()]
    assert len(arrivals) == REQUESTS and all(row["error"] is None for row in run.rows)
    rate = PER_MINUTE / 60
    for window in (2.0, 4.0):  # the bucket's burst plus the rate over the window, and a little jitter
        assert most_in_any_window(arrivals, window) <= rate + rate * window + 3, window
    report = run.report
    assert report.driver_worked and report.actor_limits["requests_per_minute"] == PER_MINUTE  # shared, not halved
    workers = {batch["worker"] for batch in report.batches}
    assert "driver" in workers and workers - {"driver"}  # the driver from the start, an actor once it was ready
    assert sum(batch["rows"] for batch in report.batches) == REQUESTS
    assert {actor.actor for actor in report.per_actor} == workers
