"""scaleout.driver: the local cluster a run starts, on a real Ray (no cluster up beforehand)."""

import os

import psutil
import pytest
import ray

from alttrain.scaleout.config import RayConfig
from alttrain.scaleout.driver import LOOPBACK_SWITCH, ray_session

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
