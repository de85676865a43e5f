from pathlib import Path

import polars as pl
import pytest
import yaml
from typer.testing import CliRunner

from alttrain.cli import app

runner = CliRunner()


def write_config(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_help_lists_every_stage() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for stage in ("prompts", "synthesize", "curate", "review", "datasheet", "train", "eval", "run"):
        assert stage in result.output


def test_prompts_writes_pool_and_resolved_config(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"name": "cli", "prompts": {"sources": [
        {"kind": "donotanswer", "n": 6}, {"kind": "reasoning_gym", "size": 4}]}})
    run_dir = tmp_path / "run"
    result = runner.invoke(app, ["prompts", "--config", str(config), "--run-dir", str(run_dir)])
    assert result.exit_code == 0, result.output
    assert "10 prompts" in result.output
    assert pl.read_parquet(run_dir / "prompts.parquet").height == 10
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["fingerprint"].startswith("v1-")


def test_config_error_exits_2_naming_the_key(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"prompts": {"sources": [{"kind": "harmbench", "count": 3}]}})
    result = runner.invoke(app, ["prompts", "--config", str(config), "--run-dir", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert "prompts.sources.0.harmbench.count: unknown key" in result.output
    assert not (tmp_path / "r" / "prompts.parquet").exists()


def test_bad_user_file_exits_2(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"prompts": {"sources": [
        {"kind": "file", "path": str(tmp_path / "missing.jsonl"), "label": "benign"}]}})
    result = runner.invoke(app, ["prompts", "--config", str(config), "--run-dir", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert "file not found" in result.output



def test_errors_are_one_unwrapped_line_at_any_terminal_width(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    missing = tmp_path / ("a-rather-long-directory-name-" * 3) / "missing.jsonl"
    source = {"kind": "file", "path": str(missing), "label": "benign"}
    config = write_config(tmp_path, {"prompts": {"sources": [source]}})
    lines = {}
    for width in ("40", "200"):
        env = {**os.environ, "COLUMNS": width, "TERM": "dumb"}
        out = subprocess.run([sys.executable, "-m", "alttrain", "prompts", "--config", str(config), "--run-dir",
                              str(tmp_path / "r")], capture_output=True, text=True, env=env)
        assert out.returncode == 2
        assert "Traceback" not in out.stdout + out.stderr
        lines[width] = [line for line in out.stdout.splitlines() if line.startswith("error:")]
    assert lines["40"] == lines["200"] == [f"error: {missing}: file not found"]


@pytest.fixture(scope="module")
def tiny_model(smollm2_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer random Llama with SmolLM2's tokenizer: trains and generates in a few seconds."""
    from alttrain.testing.random_model import build_random_model

    return build_random_model(tmp_path_factory.mktemp("tiny") / "model", smollm2_path, shape="tiny")


def whole_loop_config(tmp_path: Path, model: Path) -> Path:
    """Every stage of the loop on a few prompts: the template teacher, 1 step on the tiny model, 2 eval prompts."""
    return write_config(tmp_path, {
        "name": "loop",
        "prompts": {"sources": [{"kind": "harmbench", "n": 4}, {"kind": "reasoning_gym", "size": 4}]},
        "curation": {"selection": {"n": 4}},
        "training": {"model": str(model), "max_steps": 1, "batch_size": 1, "max_length": 1024, "threads": 1,
                     "precision": "fp32"},
        "evaluation": {"benchmarks": [{"kind": "harmbench", "n": 1}, {"kind": "reasoning_gym", "n": 1}],
                       "sampling": {"temperature": 0.0, "max_tokens": 4}, "threads": 1, "bootstrap_resamples": 20},
    })  # fmt: skip


def test_a_stage_run_alone_on_unchanged_inputs_leaves_the_loop_fresh(tmp_path: Path, tiny_model: Path) -> None:
    config, run_dir = whole_loop_config(tmp_path, tiny_model), tmp_path / "run"
    first = runner.invoke(app, ["run", "-c", str(config), "-r", str(run_dir)])
    assert first.exit_code == 0, first.output
    assert "skipped" not in first.output
    adapter = (run_dir / "model" / "adapter" / "adapter_model.safetensors").stat().st_mtime_ns

    curate = runner.invoke(app, ["curate", "-c", str(config), "-r", str(run_dir)])  # rewrites the same bytes
    assert curate.exit_code == 0, curate.output
    again = runner.invoke(app, ["run", "-c", str(config), "-r", str(run_dir)])
    assert again.exit_code == 0, again.output
    assert again.output.count("skipped: its outputs are fresh") == 6  # prompts ... eval: nothing re-runs
    assert (run_dir / "model" / "adapter" / "adapter_model.safetensors").stat().st_mtime_ns == adapter

    import alttrain

    outcomes = alttrain.run(str(config), str(run_dir))  # the Python API agrees
    assert [o.name for o in outcomes if not o.skipped] == []


def test_a_stage_command_leaves_its_stage_fresh(tmp_path: Path) -> None:
    from alttrain.config import load_config
    from alttrain.pipeline import is_fresh, stage_named

    config = write_config(tmp_path, {"name": "alone", "prompts": {"sources": [{"kind": "harmbench", "n": 3}]}})
    run_dir = tmp_path / "run"
    assert runner.invoke(app, ["prompts", "-c", str(config), "-r", str(run_dir)]).exit_code == 0
    assert is_fresh(stage_named("prompts"), load_config(config), run_dir)  # `alttrain run` would skip it
