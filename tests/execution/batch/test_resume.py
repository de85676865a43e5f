"""The batch teacher killed with SIGKILL at every phase, then run again: nothing is submitted twice."""

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import openai
import polars as pl
import pytest
import yaml
from typer.testing import CliRunner

from alttrain.cli import app
from alttrain.config import load_config
from alttrain.sources.stage import run_prompts
from alttrain.testing import FaultPlan, FaultServer

ALTTRAIN = str(Path(sys.executable).with_name("alttrain"))
PROMPTS = 6
Seen = Callable[[list[str], Path], bool]  # (the server's request log, the run directory) -> the phase is reached


def write_config(tmp_path: Path, base_url: str, **batch: object) -> Path:
    teacher = {"backend": "openai", "model": "fault-teacher", "base_url": base_url, "backoff_base_s": 0.01}
    data = {
        "name": "resume",
        "prompts": {"sources": [{"kind": "harmbench", "n": 3}, {"kind": "reasoning_gym", "size": 3}]},
        "synthesis": {"teacher": teacher, "executor": {"kind": "batch", "poll_interval_s": 0.05, **batch}},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def requests_to(log: list[str], start: str) -> int:
    return sum(entry.startswith(start) for entry in log)


# phase -> when it is reached, and the server's hold (seconds) on the answer that keeps the run inside it
PHASES: dict[str, tuple[Seen, dict[str, float]]] = {
    "written, before the upload": (lambda log, run: (run / "batches.json").exists(), {"upload": 1.0}),
    "uploaded, before the id was recorded": (lambda log, run: "POST /v1/files" in log, {"upload": 1.5}),
    "created, before the id was recorded": (lambda log, run: "POST /v1/batches" in log, {"create": 1.5}),
    "polling": (lambda log, run: requests_to(log, "GET /v1/batches/batch_1") >= 2, {}),
    "downloading": (lambda log, run: any(entry.endswith("/content") for entry in log), {"content": 1.5}),
}


def counts(server: FaultServer) -> tuple[int, int, int, int]:
    stats = server.stats()
    return stats.files_created, stats.batches_created, stats.batch_lines, stats.completions


def kill_when(server: FaultServer, run_dir: Path, command: list[str], reached: Seen) -> None:
    """Start ``command``, SIGKILL it as soon as ``reached`` holds."""
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not reached(server.request_log(), run_dir) and time.monotonic() < deadline:
        assert child.poll() is None, "the run ended before the phase was reached"
        time.sleep(0.005)
    os.kill(child.pid, signal.SIGKILL)
    assert child.wait(timeout=30) == -signal.SIGKILL
    assert not (run_dir / "synthesized.parquet").exists()


@pytest.mark.parametrize("phase", list(PHASES))
def test_sigkill_at_a_phase_then_rerun_submits_nothing_twice(tmp_path: Path, phase: str) -> None:
    reached, holds = PHASES[phase]
    run_dir = tmp_path / "run"
    with FaultServer(FaultPlan(batch_polls=3, batch_delays=holds)) as server:
        config = write_config(tmp_path, server.base_url)
        run_prompts(load_config(config), run_dir)
        command = [ALTTRAIN, "synthesize", "-c", str(config), "-r", str(run_dir)]
        kill_when(server, run_dir, command, reached)

        rerun = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert rerun.returncode == 0, rerun.stdout + rerun.stderr
        assert "batch teacher" in rerun.stdout and "batch discount 50% (assumed)" in rerun.stdout
        done = counts(server)
        assert done == (1, 1, PROMPTS, 0), rerun.stdout  # one upload, one batch, each request answered once

        reparse = CliRunner().invoke(app, ["synthesize", "-c", str(config), "-r", str(run_dir), "--reparse"])
        assert reparse.exit_code == 0, reparse.output
        assert counts(server) == done  # a re-parse sends nothing, to the chat or the batch endpoints
    frame = pl.read_parquet(run_dir / "synthesized.parquet")
    assert frame.height == PROMPTS and set(frame["status"]) == {"ok"}
    state = json.loads((run_dir / "batches.json").read_text())
    assert state["finished"] and [r["batch_id"] for r in state["batches"]] == ["batch_1"]
    assert state["accounting"]["requests"] == PROMPTS and state["accounting"]["answered"] == PROMPTS


def test_sigkill_between_the_parts_of_a_round_then_rerun(tmp_path: Path) -> None:
    """Killed while the second of three batches is created but not recorded; the third never written."""
    run_dir = tmp_path / "run"
    with FaultServer(FaultPlan(batch_delays={"create": 1.5})) as server:
        config = write_config(tmp_path, server.base_url, max_requests=2)
        run_prompts(load_config(config), run_dir)
        command = [ALTTRAIN, "synthesize", "-c", str(config), "-r", str(run_dir)]
        kill_when(server, run_dir, command, lambda log, run: log.count("POST /v1/batches") == 2)
        rerun = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert rerun.returncode == 0, rerun.stdout + rerun.stderr
        assert "round 1 part 2/3: found batch_2, created before an interruption" in rerun.stdout
        assert counts(server) == (3, 3, PROMPTS, 0)
    state = json.loads((run_dir / "batches.json").read_text())
    assert [(b["round"], b["part"], b["batch_id"]) for b in state["batches"]] == [
        (1, 1, "batch_1"), (1, 2, "batch_2"), (2, 1, "batch_3")]  # the rest of round 1 went out as round 2


def test_a_run_killed_mid_ingest_ingests_again_without_submitting(tmp_path: Path) -> None:
    """A kill after some answers reached the cache but before the round was marked ingested."""
    run_dir = tmp_path / "run"
    with FaultServer() as server:
        config = write_config(tmp_path, server.base_url)
        run_prompts(load_config(config), run_dir)
        command = ["synthesize", "-c", str(config), "-r", str(run_dir)]
        assert CliRunner().invoke(app, command).exit_code == 0
        first = pl.read_parquet(run_dir / "synthesized.parquet")
        state_path = run_dir / "batches.json"
        state = json.loads(state_path.read_text())
        state["batches"][0].update(ingested=False, answered=0, prompt_tokens=0, completion_tokens=0)
        state["finished"] = False
        state_path.write_text(json.dumps(state))
        (run_dir / "synthesized.parquet").unlink()
        before = counts(server)
        again = CliRunner().invoke(app, command)
        assert again.exit_code == 0, again.output
        assert counts(server) == before
    assert pl.read_parquet(run_dir / "synthesized.parquet").equals(first)
    assert json.loads(state_path.read_text())["accounting"]["answered"] == PROMPTS


def test_batches_json_deleted_while_a_batch_runs_then_rerun_finds_the_batch(tmp_path: Path) -> None:
    """The obvious "fix" for a damaged state file: delete it. The rerun finds its upload and batch, paging."""
    run_dir = tmp_path / "run"
    with FaultServer(FaultPlan(batch_polls=3, page_limit=1)) as server:
        config = write_config(tmp_path, server.base_url)
        run_prompts(load_config(config), run_dir)
        command = [ALTTRAIN, "synthesize", "-c", str(config), "-r", str(run_dir)]
        kill_when(server, run_dir, command, PHASES["polling"][0])
        (run_dir / "batches.json").unlink()
        client = openai.OpenAI(api_key="sk-test", base_url=server.base_url, max_retries=0)
        decoy = client.files.create(file=("other.jsonl", b"{}\n", "application/jsonl"), purpose="batch")
        client.batches.create(input_file_id=decoy.id, endpoint="/v1/chat/completions", completion_window="24h")
        rerun = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert rerun.returncode == 0, rerun.stdout + rerun.stderr
        assert "round 1: reusing file-1, an earlier upload" in rerun.stdout
        assert "round 1: found batch_1 (" in rerun.stdout and "not creating another" in rerun.stdout
        files, batches, lines, completions = counts(server)
        assert (files, batches, lines, completions) == (2, 2, PROMPTS, 0)  # ours once each, and the decoy's
        assert "GET /v1/batches?limit=100&after=batch_2" in server.request_log()  # ours was on the second page
    frame = pl.read_parquet(run_dir / "synthesized.parquet")
    assert frame.height == PROMPTS and set(frame["status"]) == {"ok"}
    state = json.loads((run_dir / "batches.json").read_text())
    assert [r["batch_id"] for r in state["batches"]] == ["batch_1"] and state["accounting"]["answered"] == PROMPTS
