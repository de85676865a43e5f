"""The ray executor on a real single-node Ray cluster (loopback only) against the real fault server."""

import os

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # before Ray is imported: bind to 127.0.0.1 only

import asyncio
import contextlib
import io
import json
import logging
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest
import ray
import yaml
from rich.console import Console

from alttrain.config import parse_config
from alttrain.errors import CacheMissError, ConfigError, TeacherAccessError
from alttrain.execution.base import Execution
from alttrain.execution.jobs import RequestJob
from alttrain.execution.ray import RayExecutor, RaySettings
from alttrain.llm.cache import ResponseCache
from alttrain.llm.client import TeacherClient
from alttrain.llm.config import TeacherConfig
from alttrain.llm.types import SamplingParams, TeacherRequest
from alttrain.prompt_sets.builtin import HarmBenchSource, ReasoningGymSource
from alttrain.records import conform, read_stage, record_id, write_stage
from alttrain.scaleout.config import RayConfig
from alttrain.scaleout.entries import Entry, merge_entries
from alttrain.scaleout.nodes import clean, node_dir, run_tag
from alttrain.scaleout.view import show_scaleout
from alttrain.sources.pool import PromptsConfig, build_prompt_pool
from alttrain.synthesis.stage import SynthesisResult, run_synthesis
from alttrain.testing import FaultPlan, FaultServer, teacher_config

ALTTRAIN = str(Path(sys.executable).with_name("alttrain"))
FAULTY = [
    "twice rate limited [[faults:rate_limit,rate_limit]]", "a server error, then fine [[faults:server_error]]",
    "malformed, then fine [[faults:malformed_json]]", "junk every time [[fault:refusal_junk]]",
    "empty, then repaired [[faults:empty]]", "wrong verdict every time [[fault:wrong_verdict]]",
    "cut off, then fine [[faults:cut_off]]", "   ",
]  # fmt: skip
FAILING = ["always down [[fault:server_error]]", "refused as bad [[fault:bad_request]]"]  # never answered: not cached


@pytest.fixture(scope="module", autouse=True)
def cluster() -> Iterator[None]:
    """One local cluster for the module (2 CPUs, no dashboard); the executor finds it up and leaves it."""
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
    yield
    ray.shutdown()


def prompts(*texts: str) -> pl.DataFrame:
    rows = [{"id": record_id("test", text), "prompt": text, "label": "harmful" if i % 3 == 0 else "benign",
             "category": "test", "source": "test", "license": "none"} for i, text in enumerate(texts)]  # fmt: skip
    return conform(pl.DataFrame(rows), "prompts")


def plain(n: int) -> list[str]:
    return [f"neutral question number {i}" for i in range(n)]


def config(base_url: str | None, tmp_path: Path, *, executor: str = "ray", **ray_settings: object) -> dict:
    teacher = {"backend": "template"} if base_url is None else {
        **teacher_config(base_url, concurrency=4, max_retries=2).model_dump(mode="json"),
    }  # fmt: skip
    ray_section = {"actors": 2, "batch_size": 4, "node_cache_dir": str(tmp_path / "nodes"), "local_cpus": 2}
    options = {**ray_section, **ray_settings} if executor == "ray" else {}
    synthesis = {"teacher": teacher, "max_repair_attempts": 1, "executor": {"kind": executor, **options}}
    return {"name": "ray", "prompts": {"sources": [{"kind": "harmbench", "n": 1}]}, "synthesis": synthesis}


def synthesize(data: dict, run_dir: Path, frame: pl.DataFrame, **flags: bool) -> SynthesisResult:
    if not (run_dir / "prompts.parquet").exists():
        run_dir.mkdir(parents=True, exist_ok=True)
        write_stage(frame, run_dir / "prompts.parquet", "prompts")
    return run_synthesis(parse_config(data), run_dir, **flags)


def rows(run_dir: Path) -> pl.DataFrame:
    return read_stage(run_dir / "synthesized.parquet", "synthesized").sort("id")


def cached_keys(*paths: Path) -> set[str]:
    keys: set[str] = set()
    for path in paths:
        if path.exists():
            with sqlite3.connect(path, timeout=10) as db, contextlib.suppress(sqlite3.OperationalError):  # no table yet
                keys |= {key for (key,) in db.execute("SELECT key FROM responses")}
    return keys


@dataclass
class Runs:
    local: SynthesisResult
    ray: SynthesisResult
    local_completions: int
    ray_completions: int
    server: FaultServer


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    """The same prompts through the local engine and through Ray (2 actors), each against a fresh fault server."""
    tmp_path = tmp_path_factory.mktemp("runs")
    frame = prompts(*FAULTY, *plain(14), *FAILING)
    with FaultServer() as server:
        local = synthesize(config(server.base_url, tmp_path, executor="local"), tmp_path / "local", frame)
        local_completions = server.stats().completions
    with FaultServer() as server:
        ray_result = synthesize(config(server.base_url, tmp_path), tmp_path / "ray", frame)
        yield Runs(local, ray_result, local_completions, server.stats().completions, server)


def test_a_ray_run_makes_the_local_runs_rows(runs: Runs, tmp_path_factory: pytest.TempPathFactory) -> None:
    local, remote = runs.local, runs.ray
    assert rows(remote.path.parent).equals(rows(local.path.parent))
    assert runs.ray_completions == runs.local_completions and remote.requests_sent == local.requests_sent
    assert (remote.ok, remote.quarantined, remote.reasons, remote.retries) == \
           (local.ok, local.quarantined, local.reasons, local.retries)  # fmt: skip
    assert remote.reasons == {"teacher_error": 2, "invalid_trace": 2, "bad_input": 1} and remote.rows == 24
    assert remote.executor == "ray" and local.executor == "local"
    report = json.loads((remote.path.parent / "scaleout.json").read_text())
    assert report["stage"] == "synthesize" and report["executor"] == "ray" and report["actors"] == 2
    assert report["actor_limits"]["concurrency"] == 2  # the endpoint's 4 divided between 2 actors
    assert sum(actor["rows"] for actor in report["per_actor"]) == remote.rows == 24
    assert sum(actor["sent"] for actor in report["per_actor"]) == remote.requests_sent
    assert report["merged_entries"] == len(cached_keys(remote.cache_path)) > 0
    assert json.loads((local.path.parent / "scaleout.json").read_text())["executor"] == "local"
    assert not list((remote.path.parent.parent / "nodes").glob("*/*.sqlite"))  # node caches merged, then deleted


def test_reparse_and_a_local_rerun_after_a_ray_run_send_only_what_was_never_answered(runs: Runs) -> None:
    run_dir = runs.ray.path.parent
    first = rows(run_dir)
    data = config(runs.server.base_url, run_dir.parent)
    failed = set(first.filter(pl.col("reason").str.starts_with("teacher_error"))["id"])
    with pytest.raises(CacheMissError, match="2 of 24 prompts") as missing:  # as after a local run: no answer
        run_synthesis(parse_config(data), run_dir, reparse=True)
    assert all(row in str(missing.value) for row in failed)
    data["synthesis"]["limit"] = 22  # every prompt but the two whose requests failed
    again = run_synthesis(parse_config(data), run_dir, reparse=True)
    assert again.reparsed and again.requests_sent == 0 and again.rows == 22
    assert rows(run_dir).equals(first.filter(~pl.col("id").is_in(failed)))
    assert runs.server.stats().completions == runs.ray_completions
    del data["synthesis"]["limit"]
    data["synthesis"]["executor"] = {"kind": "local"}
    local = run_synthesis(parse_config(data), run_dir)
    assert local.requests_sent == 3 + 1  # only the two that failed (one retried twice): failures are not cached
    assert local.cache_hits == len(cached_keys(runs.ray.cache_path))  # every answer the actors received
    assert rows(run_dir).equals(first)


def test_an_actor_that_dies_midway_is_replaced_and_resends_at_most_its_requests_in_flight(tmp_path: Path) -> None:
    frame = prompts(*plain(24))
    with FaultServer(FaultPlan(latency_s=0.05)) as server:
        expected = synthesize(config(server.base_url, tmp_path, executor="local"), tmp_path / "local", frame)
        before = server.stats().completions
        result = synthesize(config(server.base_url, tmp_path, crash_after_batches=1), tmp_path / "ray", frame)
        sent = server.stats().completions - before
    assert rows(tmp_path / "ray").equals(rows(tmp_path / "local"))
    assert result.scaleout is not None
    restarted = [actor for actor in result.scaleout.per_actor if actor.restarts == 1]
    assert len(restarted) == 1  # the drill crashed one actor once; Ray restarted it and retried its batches
    assert 0 <= sent - expected.requests_sent <= 2  # at most the crashed actor's concurrency (4 / 2 actors)
    assert len(cached_keys(result.cache_path)) == expected.requests_sent


def test_a_killed_driver_resumes_from_the_node_caches(tmp_path: Path) -> None:
    run_dir, nodes = tmp_path / "run", tmp_path / "nodes"
    frame = prompts(*plain(32))
    with FaultServer(FaultPlan(latency_s=0.3)) as server:
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump(config(server.base_url, tmp_path)))
        run_dir.mkdir()
        write_stage(frame, run_dir / "prompts.parquet", "prompts")
        command = [ALTTRAIN, "synthesize", "-c", str(path), "-r", str(run_dir)]
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            deadline = time.monotonic() + 120
            while len(cached_keys(*nodes.glob("*/*.sqlite"))) < 8 and time.monotonic() < deadline:
                assert child.poll() is None, "the run ended before it could be killed"
                time.sleep(0.02)
            os.kill(child.pid, signal.SIGKILL)
            assert child.wait(timeout=30) == -signal.SIGKILL
            settled = settle(server)
        finally:
            end_session(child.pid)
        merged = cached_keys(run_dir / "cache.sqlite")
        cached = merged | cached_keys(*nodes.glob("*/*.sqlite"))
        in_flight = settled - len(cached)
        assert 8 <= len(cached) < 32 and not (run_dir / "synthesized.parquet").exists()
        assert 0 <= in_flight <= 4  # the endpoint's concurrency, shared by the actors

        restart = subprocess.run(command, capture_output=True, text=True, timeout=300)
        assert restart.returncode == 0, restart.stdout + restart.stderr
        resent = server.stats().completions - settled - (32 - len(cached))
    assert 0 <= resent <= in_flight
    result = rows(run_dir)
    assert result.height == 32 and result["id"].n_unique() == 32 and set(result["status"]) == {"ok"}
    assert len(cached_keys(run_dir / "cache.sqlite")) == 32 and not list(nodes.glob("*/*.sqlite"))
    report = json.loads((run_dir / "scaleout.json").read_text())
    assert report["rows_from_cache"] == len(cached)  # every answer the killed run received, none asked again
    assert report["recovered_entries"] == len(cached - merged)  # those only the node caches held


def settle(server: FaultServer) -> int:
    """The server's completion count once it stops changing (the killed run's requests have landed)."""
    count, stable_since = server.stats().completions, time.monotonic()
    while time.monotonic() - stable_since < 1.5:
        time.sleep(0.1)
        now = server.stats().completions
        if now != count:
            count, stable_since = now, time.monotonic()
    return count


def end_session(session: int) -> None:
    """Kill what is left of a killed driver's cluster: the processes of the session it led (Ray's agents)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == session:  # field 6 of /proc/PID/stat: the session id
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(stat.parent.name), signal.SIGKILL)


def test_a_planted_node_cache_is_never_merged_and_a_folder_others_can_reach_stops_the_run(tmp_path: Path) -> None:
    """The issue's forged file: the real key of one prompt, an empty request, another teacher's name."""
    frame = prompts(*plain(6))
    with FaultServer() as server:
        synthesize(config(server.base_url, tmp_path, executor="local"), tmp_path / "local", frame)
        with sqlite3.connect(tmp_path / "local" / "cache.sqlite") as db:
            (key,) = db.execute("SELECT key FROM responses LIMIT 1").fetchone()
        data, run_dir = config(server.base_url, tmp_path), tmp_path / "ray"
        folder = node_dir(RayConfig(node_cache_dir=tmp_path / "nodes"), run_tag(run_dir / "cache.sqlite"))
        forged = json.dumps({"text": "FORGED", "reasoning_content": None, "prompt_tokens": 1,
                             "completion_tokens": 1, "finish_reason": "stop"})  # fmt: skip
        with ResponseCache(folder / "planted.sqlite") as planted:
            merge_entries(planted, [Entry(key, "openai:some-other-model", "", forged)])
        before = server.stats().completions
        result = synthesize(data, run_dir, frame)
        assert server.stats().completions - before == 6  # every prompt asked of the teacher, the planted one too
    assert rows(run_dir).equals(rows(tmp_path / "local"))
    with sqlite3.connect(run_dir / "cache.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM responses WHERE response LIKE '%FORGED%'").fetchone() == (0,)
    report = json.loads((run_dir / "scaleout.json").read_text())
    assert report["recovered_entries"] == 0
    ((what, count),) = report["refused_entries"].items()
    assert count == 1 and what.endswith("planted.sqlite: a key that is not the hash of its stored request")
    shown = Console(file=io.StringIO(), width=200)
    assert result.scaleout is not None
    show_scaleout(shown, result.scaleout)
    assert f"1 node-cache answers refused, never merged: {what} (1)" in shown.file.getvalue()

    folder = node_dir(RayConfig(node_cache_dir=tmp_path / "nodes"), run_tag(tmp_path / "again" / "cache.sqlite"))
    folder.chmod(0o777)  # another user could plant files in it, or read the answers
    with FaultServer() as server, pytest.raises(ConfigError, match=f"{folder} has mode 0777"):
        synthesize(config(server.base_url, tmp_path), tmp_path / "again", frame)
    assert server.stats().completions == 0


def test_the_template_teacher_runs_on_ray_without_a_server(tmp_path: Path) -> None:
    """The quickstart's teacher: rules over the record, no endpoint; shipped prompts (HarmBench, gsm_symbolic)."""
    frame = build_prompt_pool(PromptsConfig(sources=[HarmBenchSource(n=4), ReasoningGymSource(size=4, seed=1)]))[0]
    local = synthesize(config(None, tmp_path, executor="local"), tmp_path / "local", frame)
    remote = synthesize(config(None, tmp_path, actors=1), tmp_path / "ray", frame)
    assert rows(tmp_path / "ray").equals(rows(tmp_path / "local"))
    assert remote.ok == local.ok == 8 and remote.requests_sent == local.requests_sent == 8
    assert remote.scaleout is not None and remote.scaleout.actor_limits["concurrency"] == 32  # an engine per actor


KEYED = FaultPlan(api_key="sk-right-key-9876543210", record_requests=True)


def keyed(server: FaultServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key: str) -> dict:
    """A run's config whose teacher reads ``$ALTTRAIN_TEST_KEY``, exported now (after the module's cluster started)."""
    monkeypatch.setenv("ALTTRAIN_TEST_KEY", key)
    data = config(server.base_url, tmp_path)
    data["synthesis"]["teacher"]["api_key_env"] = "ALTTRAIN_TEST_KEY"
    return data


def test_a_refused_key_stops_the_ray_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The actors send the driver's (wrong) key; the endpoint's 401 ends the run after the requests in flight."""
    with FaultServer(KEYED) as server:
        data = keyed(server, tmp_path, monkeypatch, "sk-wrong-key-0123456789")
        with pytest.raises(TeacherAccessError, match=r"HTTP 401 .*\$ALTTRAIN_TEST_KEY") as refused:
            synthesize(data, tmp_path / "run", prompts(*plain(12)))
        stats, recorded = server.stats(), server.recorded()
    assert 1 <= stats.faults["unauthorized"] == stats.completions <= 4  # refused, then nothing more sent
    assert {request.authorization for request in recorded} == {"Bearer sk-wrong-key-0123456789"}
    assert "sk-wrong-key" not in str(refused.value)  # the server echoes the key; the error does not
    assert not (tmp_path / "run" / "synthesized.parquet").exists()


def test_a_key_exported_after_the_cluster_started_reaches_the_actors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As in a notebook that called ``ray.init`` first: the actors' processes never saw the variable."""
    with FaultServer(KEYED) as server:
        result = synthesize(keyed(server, tmp_path, monkeypatch, "sk-right-key-9876543210"), tmp_path / "run",
                            prompts(*plain(12)))  # fmt: skip
        stats, recorded = server.stats(), server.recorded()
    assert result.ok == 12 and stats.faults["unauthorized"] == 0
    assert {request.authorization for request in recorded} == {"Bearer sk-right-key-9876543210"}
    written = [path for path in tmp_path.rglob("*") if path.is_file()]
    assert written and not [path for path in written if b"sk-right-key" in path.read_bytes()]


def on_ray(conversations: list[list[dict[str, str]]], teacher: TeacherConfig, sampling: SamplingParams,
           cache: ResponseCache, settings: RaySettings) -> Execution:  # fmt: skip
    """A :class:`RequestJob` (one request per conversation) through the ray executor."""
    records = [{"messages": conversation} for conversation in conversations]
    execution = RayExecutor(settings, cache.path.parent).run(records, RequestJob(teacher, sampling), cache)
    assert execution.report is not None
    return execution


def test_requests_on_ray_answer_as_the_client_does_and_fill_its_cache(tmp_path: Path) -> None:
    """The path evaluation's generation takes: one request per conversation, errors as rows."""
    conversations = [[{"role": "user", "content": f"[[reply:hello]] say hello {i}"}] for i in range(5)]
    conversations.append([{"role": "user", "content": "[[fault:bad_request]] fail"}])
    sampling = SamplingParams(temperature=0.0, max_tokens=16)
    settings = RaySettings(actors=2, batch_size=2, node_cache_dir=tmp_path / "nodes")
    with FaultServer(FaultPlan(replies={"hello": "hello!"})) as server:
        teacher = teacher_config(server.base_url, max_retries=0)
        with ResponseCache(tmp_path / "c.sqlite") as cache:
            run = on_ray(conversations, teacher, sampling, cache, settings)
        assert [row["text"] for row in run.rows] == ["hello!"] * 5 + [""]
        assert run.rows[-1]["error"].startswith("PermanentTeacherError: HTTP 400")
        assert run.report is not None and run.report.merged_entries == 5 and run.stats.sent == 6

        async def locally() -> list[str]:
            with ResponseCache(tmp_path / "c.sqlite") as cache:
                async with TeacherClient(teacher, cache, offline=True) as client:
                    request = TeacherRequest(messages=conversations[0], sampling=sampling)
                    return [(await client.complete(request)).text]

        assert asyncio.run(locally()) == ["hello!"]  # the same key as a local client's
        with ResponseCache(tmp_path / "c.sqlite") as cache:
            again = on_ray(conversations, teacher, sampling, cache, settings)
        assert again.report is not None and again.report.rows_from_cache == 5
        assert again.stats.sent == 1  # only the failed one is asked again


def test_clean_leaves_the_nodes_whose_actors_cleaned_and_deletes_the_others(tmp_path: Path) -> None:
    settings = RayConfig(node_cache_dir=tmp_path / "nodes")
    folder = node_dir(settings, "run")
    node = ray.get_runtime_context().get_node_id()
    clean(settings, "run", cleaned={node})  # this node's actors deleted it already: no task goes there
    assert folder.exists()
    clean(settings, "run")
    assert not folder.exists()
