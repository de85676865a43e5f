from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
import yaml
from typer.testing import CliRunner

import alttrain
from alttrain.cli import app
from alttrain.config import RunConfig, parse_config
from alttrain.records import STAGE_SCHEMAS, read_stage, write_stage
from alttrain.sources.pool import build_prompt_pool
from alttrain.structure import TraceFields
from curation.rows import BENIGN_FIELDS, HARMFUL_FIELDS, frame, row

CONFIG = {
    "name": "curation-e2e",
    "seed": 7,
    "prompts": {"sources": [
        {"kind": "harmbench", "n": 30}, {"kind": "advbench", "n": 30},
        {"kind": "reasoning_gym", "task": "gsm_symbolic", "size": 50, "seed": 3},
    ]},
    "curation": {"selection": {"n": 60, "harmful_fraction": 0.5}},
}


def synthesized_from_pool(config: RunConfig) -> pl.DataFrame:
    """One ok row per pooled prompt, with neutral rendered traces; plus a few known defects."""
    pool, _ = build_prompt_pool(config.prompts)
    rows = []
    for record in pool.to_dicts():
        base = {k: record[k] for k in ("id", "category", "source", "license", "original_reasoning",
                                       "original_answer", "reference_answer")}
        if record["label"] == "harmful":
            rows.append(row(record["prompt"], "harmful", fields=HARMFUL_FIELDS, **base))
            continue
        fields = TraceFields(**{**BENIGN_FIELDS.__dict__, "reasoning": record["original_reasoning"],
                                "answer": f"The answer is {record['reference_answer']}."})
        rows.append(row(record["prompt"], "benign", fields=fields, mode="rewrite", **base))
    rows[0].update(status="quarantined", reason="invalid_trace: no verdict line")
    rows[-1]["answer"] = "The answer is -1."
    rows[-1]["trace"] = rows[-1]["trace"].rsplit("\n", 1)[0] + "\nThe answer is -1."
    return frame(rows)


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    config = parse_config(CONFIG)
    write_stage(synthesized_from_pool(config), tmp_path / "synthesized.parquet", "synthesized")
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(CONFIG))
    return tmp_path


def test_the_stage_writes_curated_rejected_and_a_funnel_that_adds_up(run_dir: Path) -> None:
    result = alttrain.run_curation(parse_config(CONFIG), run_dir)
    synthesized = read_stage(run_dir / "synthesized.parquet", "synthesized")
    curated = read_stage(result.curated_path, "curated")
    rejected = read_stage(result.rejected_path, "rejected")
    assert set(STAGE_SCHEMAS["curated"]) <= set(curated.columns)
    assert curated.height == 60
    assert curated.filter(pl.col("label") == "harmful").height == 30
    assert curated.height + rejected.height == synthesized.height
    assert set(curated["id"]) | set(rejected["id"]) == set(synthesized["id"])
    reasons = rejected["filter_reason"].to_list()
    assert "synthesis:quarantined: invalid_trace: no verdict line" in reasons
    assert "answer:incorrect" in reasons
    assert set(curated["answer_check"].drop_nulls()) == {"reasoning_gym:gsm_symbolic"}
    assert curated.filter(pl.col("mode") == "rewrite")["length_reduction"].null_count() == 0
    report = json.loads(result.report_path.read_text())
    removed = sum(s["dropped"] for s in report["filters"]) + sum(s["merged"] for s in report["dedup"])
    assert report["input"] == removed + report["not_selected"] + report["selected"]
    assert report["rows_in"] == synthesized.height
    assert report["length_reduction"]["rows"] == curated.filter(pl.col("mode") == "rewrite").height


def test_the_stage_is_deterministic(run_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    config = parse_config(CONFIG)
    first = read_stage(alttrain.run_curation(config, run_dir).curated_path, "curated")["id"].to_list()
    other = tmp_path_factory.mktemp("again")
    (other / "synthesized.parquet").write_bytes((run_dir / "synthesized.parquet").read_bytes())
    assert read_stage(alttrain.run_curation(config, other).curated_path, "curated")["id"].to_list() == first


def test_the_cli_prints_the_funnel_and_fails_cleanly_without_input(run_dir: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    done = runner.invoke(app, ["curate", "--config", str(run_dir / "config.yaml"), "--run-dir", str(run_dir)])
    assert done.exit_code == 0, done.output
    assert "curation funnel" in done.output and "selection" in done.output
    assert "1xsynthesis:quarantined:invalid_trace:noverdictline" in "".join(done.output.split())
    empty = tmp_path / "empty"
    failed = runner.invoke(app, ["curate", "--config", str(run_dir / "config.yaml"), "--run-dir", str(empty)])
    assert failed.exit_code == 2
    assert "synthesized.parquet:notfound" in "".join(failed.output.split())
    assert "Traceback" not in failed.output
