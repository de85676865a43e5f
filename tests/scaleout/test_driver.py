"""scaleout.driver: the local cluster a run starts (real Ray, no cluster up beforehand), and the checks before it."""

import os
from pathlib import Path

import psutil
import pytest
import ray

from alttrain.errors import ConfigError
from alttrain.execution.jobs import RequestJob
from alttrain.llm.cache import ResponseCache
from alttrain.llm.types import SamplingParams
from alttrain.scaleout.config import RayConfig
from alttrain.scaleout.driver import LOOPBACK_SWITCH, ray_session, run_on_ray
from alttrain.testing import FaultServer, teacher_config

LOOPBACK = {"127.0.0.1", "::ffff:127.0.0.1"}


def test_a_cluster_started_here_listens_on_loopback_only_and_reports_no_usage(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (LOOPBACK_SWITCH, "RAY_USAGE_STATS_ENABLED"):
        monkeypatch.delenv(name, raising=False)
    assert not ray.is_initialized()
    with ray_session(RayConfig(local_cpus=1)):
        assert [node["NodeManagerAddress"] for node in ray.nodes()] == ["127.0.0.1"]
        assert ray.get(ray.remote(lambda: 1).remote()) == 1  # a worker process runs too
        processes = [psutil.Process(), *psutil.Process().children(recursive=True)]
        listening = {connection.laddr.ip for process in processes for connection in process.net_connections("tcp")
                     if connection.status == psutil.CONN_LISTEN}  # fmt: skip
        assert listening and listening <= LOOPBACK, listening  # no port of the cluster on another interface
        gcs = next(process for process in processes if process.name() == "gcs_server")
        assert gcs.environ()["RAY_USAGE_STATS_ENABLED"] == "0"
    assert not ray.is_initialized()
    assert not {LOOPBACK_SWITCH, "RAY_USAGE_STATS_ENABLED"} & set(os.environ)  # this process's environment restored


def test_an_unset_key_variable_stops_the_run_before_ray_starts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ALTTRAIN_TEST_KEY", raising=False)
    with FaultServer() as server, ResponseCache(tmp_path / "cache.sqlite") as cache:
        teacher = teacher_config(server.base_url, api_key_env="ALTTRAIN_TEST_KEY")
        with pytest.raises(ConfigError, match=r"the key variable \$ALTTRAIN_TEST_KEY is not set"):
            records = [{"messages": [{"role": "user", "content": "hi"}]}]
            run_on_ray(records, RequestJob(teacher, SamplingParams()), cache, RayConfig())
        assert server.stats().completions == 0
    assert not ray.is_initialized()
