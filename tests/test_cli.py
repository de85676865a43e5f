from pathlib import Path

import polars as pl
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
