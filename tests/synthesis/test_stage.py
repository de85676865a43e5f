import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
import yaml
from typer.testing import CliRunner

from alttrain.cli import app
from alttrain.config import load_config
from alttrain.records import read_stage
from alttrain.sources.stage import run_prompts
from alttrain.synthesis.stage import run_synthesis
from alttrain.testing import FaultPlan, FaultServer

runner = CliRunner()
ALTTRAIN = str(Path(sys.executable).with_name("alttrain"))


@pytest.fixture(autouse=True)
def test_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """The key variable every config here names (the fault server takes any key unless told one)."""
    monkeypatch.setenv("ALTTRAIN_TEST_KEY", "sk-test-key-0123456789")


def write_config(tmp_path: Path, base_url: str | None, **synthesis: object) -> Path:
    teacher = {
        "backend": "openai",
        "model": "fault-teacher",
        "base_url": base_url,
        "concurrency": 4,
        "backoff_base_s": 0.01,
        "api_key_env": "ALTTRAIN_TEST_KEY",
    }
    data = {
        "name": "stage",
        "prompts": {"sources": [{"kind": "harmbench", "n": 12}, {"kind": "reasoning_gym", "size": 12}]},
        "synthesis": {"teacher": teacher, **synthesis},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def cached_rows(path: Path) -> int:
    if not path.exists():
        return 0
    with sqlite3.connect(path, timeout=10) as db:
        try:
            return db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
        except sqlite3.OperationalError:  # the table is not created yet
            return 0


def test_run_synthesis_writes_the_stage_file_and_counts(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    with FaultServer() as server:
        config = load_config(write_config(tmp_path, server.base_url, limit=10))
        run_prompts(config, run_dir)
        result = run_synthesis(config, run_dir)
    frame = read_stage(result.path, "synthesized")
    assert result.path == run_dir / "synthesized.parquet" and result.cache_path == run_dir / "cache.sqlite"
    assert result.rows == frame.height == 10 and result.ok == 10 and result.quarantined == 0
    assert result.ok + result.quarantined == result.rows and result.reasons == {}
    assert result.requests_sent == 10 and result.cache_hits == 0
    assert result.prompt_tokens == frame["prompt_tokens"].sum() > 0


def test_cli_synthesize_then_reparse(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    with FaultServer() as server:
        config = write_config(tmp_path, server.base_url, max_repair_attempts=0)
        assert runner.invoke(app, ["prompts", "-c", str(config), "-r", str(run_dir)]).exit_code == 0
        prompts = read_stage(run_dir / "prompts.parquet", "prompts")
        # one prompt keeps failing: quarantined, counted, and listed by reason
        broken = prompts.with_columns(
            pl.when(pl.int_range(pl.len()) == 0)
            .then(pl.col("prompt") + " [[fault:empty]]")
            .otherwise(pl.col("prompt"))
            .alias("prompt")
        )
        broken.write_parquet(run_dir / "prompts.parquet")
        result = runner.invoke(app, ["synthesize", "-c", str(config), "-r", str(run_dir)])
        assert result.exit_code == 0, result.output
        assert "24 rows = 23 ok + 1 quarantined" in result.output
        assert "quarantined 1 x invalid_trace" in result.output
        assert "rows/s" in result.output and "retries" in result.output  # the progress bar
        sent = server.stats().completions
        first = pl.read_parquet(run_dir / "synthesized.parquet")
        reparsed = runner.invoke(app, ["synthesize", "-c", str(config), "-r", str(run_dir), "--reparse"])
        assert reparsed.exit_code == 0, reparsed.output
        assert "re-parsed from the cache" in reparsed.output
        assert server.stats().completions == sent
    assert pl.read_parquet(run_dir / "synthesized.parquet").equals(first)


@pytest.mark.parametrize(
    ("setup", "arguments", "message"),
    [
        ("none", [], "not found (run the 'prompts' stage first)"),
        ("prompts", ["--reparse"], "no cache to re-parse"),
        ("partial cache", ["--reparse"], "have no cached response"),
        ("bad key", [], "synthesis.teacher.retries: unknown key"),
        ("no api key", [], "$ALTTRAIN_TEST_KEY"),
        ("unset key variable", [], "the key variable $ALTTRAIN_TEST_KEY is not set"),
    ],
)
def test_cli_user_errors_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setup: str, arguments: list[str], message: str
) -> None:
    if setup in {"no api key", "unset key variable"}:
        monkeypatch.delenv("ALTTRAIN_TEST_KEY")
    run_dir = tmp_path / "run"
    with FaultServer() as server:
        config = write_config(tmp_path, None if setup == "no api key" else server.base_url, limit=3)
        if setup != "none":
            run_prompts(load_config(config), run_dir)
        if setup == "partial cache":
            run_synthesis(load_config(write_config(tmp_path, server.base_url, limit=1)), run_dir)
            config = write_config(tmp_path, server.base_url, limit=3)
        if setup == "bad key":
            data = yaml.safe_load(config.read_text())
            data["synthesis"]["teacher"]["retries"] = 3
            config.write_text(yaml.safe_dump(data))
        result = runner.invoke(app, ["synthesize", "-c", str(config), "-r", str(run_dir), *arguments])
        completions = server.stats().completions
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output
    assert completions == (1 if setup == "partial cache" else 0)  # an unset key variable: nothing sent


def test_a_truncated_cache_is_one_clear_error_on_a_run_and_on_reparse(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    cache = run_dir / "cache.sqlite"
    with FaultServer() as server:
        config = write_config(tmp_path, server.base_url, limit=6)
        run_prompts(load_config(config), run_dir)
        run_synthesis(load_config(config), run_dir)
        rows = (run_dir / "synthesized.parquet").read_bytes()
        cache.write_bytes(cache.read_bytes()[: cache.stat().st_size // 2])
        for arguments in ([], ["--reparse"]):
            result = runner.invoke(app, ["synthesize", "-c", str(config), "-r", str(run_dir), *arguments])
            assert result.exit_code == 2, result.output
            said = " ".join(result.output.split())
            assert f"{cache}: the response cache is damaged" in said and f"mv {cache} {cache}.damaged" in said
            assert "Traceback" not in result.output
        assert (run_dir / "synthesized.parquet").read_bytes() == rows  # the answers already written are kept
        cache.rename(cache.with_suffix(".damaged"))  # the recovery the message names
        again = runner.invoke(app, ["synthesize", "-c", str(config), "-r", str(run_dir)])
    assert again.exit_code == 0, again.output
    assert read_stage(run_dir / "synthesized.parquet", "synthesized").height == 6


def test_sigkill_midway_then_restart_resends_at_most_what_was_in_flight(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    cache = run_dir / "cache.sqlite"
    with FaultServer(FaultPlan(latency_s=0.25)) as server:
        config = write_config(tmp_path, server.base_url)
        run_prompts(load_config(config), run_dir)
        command = [ALTTRAIN, "synthesize", "-c", str(config), "-r", str(run_dir)]
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while cached_rows(cache) < 8 and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.02)
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
        time.sleep(0.3)  # let requests still on the wire reach the server
        sent_before, cached_at_kill = server.stats().completions, cached_rows(cache)
        assert 8 <= cached_at_kill < 24 and not (run_dir / "synthesized.parquet").exists()
        in_flight = sent_before - cached_at_kill
        assert 0 <= in_flight <= 4  # the configured concurrency

        restart = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert restart.returncode == 0, restart.stdout + restart.stderr
        sent_after = server.stats().completions - sent_before
    resent = sent_after - (24 - cached_at_kill)
    assert 0 <= resent <= in_flight
    frame = read_stage(run_dir / "synthesized.parquet", "synthesized")
    assert frame.height == 24 and frame["id"].n_unique() == 24 and set(frame["status"]) == {"ok"}
    assert cached_rows(cache) == 24


def test_cli_stops_at_a_refused_key_with_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALTTRAIN_TEST_KEY", "sk-wrong-key-0123456789")
    run_dir = tmp_path / "run"
    with FaultServer(FaultPlan(api_key="sk-right-key-9876543210")) as server:
        config = write_config(tmp_path, server.base_url)
        assert runner.invoke(app, ["prompts", "-c", str(config), "-r", str(run_dir)]).exit_code == 0
        result = runner.invoke(app, ["synthesize", "-c", str(config), "-r", str(run_dir)])
        completions = server.stats().completions
    assert result.exit_code == 2
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert errors == [f"error: teacher endpoint {server.base_url} answered HTTP 401 (authentication failed): it "
                      "refused the key in $ALTTRAIN_TEST_KEY; check the key and that it is meant for this endpoint"]
    assert "Traceback" not in result.output and "sk-wrong" not in result.output
    assert completions <= 4 and not (run_dir / "synthesized.parquet").exists()


def test_export_prints_commands_that_run_as_printed(tmp_path: Path) -> None:
    import re
    import shlex

    run_dir = tmp_path / "run"
    with FaultServer() as server:
        config = write_config(tmp_path, server.base_url, limit=2)
        assert runner.invoke(app, ["prompts", "-c", str(config), "-r", str(run_dir)]).exit_code == 0
        exported = runner.invoke(app, ["synthesize", "-c", str(config), "-r", str(run_dir), "--export"])
        completions = server.stats().completions
    assert exported.exit_code == 0, exported.output
    assert completions == 0
    hint = " ".join(exported.output.split())
    assert "run `VLLM_NO_USAGE_STATS=1 python -m vllm.entrypoints.openai.run_batch -i " in hint  # any vLLM build
    ingest = re.search(r"then `alttrain (synthesize [^`]+)`", hint)
    assert ingest is not None, hint
    result = runner.invoke(app, shlex.split(ingest.group(1)))  # as printed: config and run directory included
    assert result.exit_code == 2
    assert f"{run_dir / 'batch' / 'vllm_output.jsonl'}: not found" in " ".join(result.output.split())


def test_the_stage_runs_the_executor_its_section_names_and_writes_its_accounting(tmp_path: Path) -> None:
    """``executor: {kind: batch}``: the rows as a local run makes them, scaleout.json and a finished batches.json."""
    import json

    with FaultServer() as server:
        local = load_config(write_config(tmp_path, server.base_url, limit=6))
        run_prompts(local, tmp_path / "local")
        run_synthesis(local, tmp_path / "local")
        batch = load_config(write_config(tmp_path, server.base_url, limit=6,
                                         executor={"kind": "batch", "poll_interval_s": 0.02}))
        run_prompts(batch, tmp_path / "batch")
        result = run_synthesis(batch, tmp_path / "batch")
    assert result.executor == "batch" and result.batch is not None and result.batch.requests == 6
    assert read_stage(result.path, "synthesized").equals(read_stage(tmp_path / "local" / "synthesized.parquet",
                                                                    "synthesized"))  # fmt: skip
    report = json.loads((tmp_path / "batch" / "scaleout.json").read_text())
    assert (report["executor"], report["rows"], report["requests_sent"]) == ("batch", 6, 6)
    assert json.loads((tmp_path / "batch" / "batches.json").read_text())["finished"]
    assert json.loads((tmp_path / "local" / "scaleout.json").read_text())["executor"] == "local"
