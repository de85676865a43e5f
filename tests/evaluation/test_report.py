"""A real small evaluation on CPU: SmolLM2-135M before and after a few LoRA steps (the training stage's API)
and with a third, peer adapter, a handful of held-out prompts, a complete report; then the ``eval`` command on
the same run (from the cache)."""

import json
import shutil
from pathlib import Path

import polars as pl
import pytest
import yaml
from typer.testing import CliRunner

from alttrain.cli import app
from alttrain.config import RunConfig, parse_config
from alttrain.evaluation.report import EvaluationResult, summary_table
from alttrain.evaluation.stage import run_evaluation
from alttrain.refusal import MEASURED_AGREEMENT, MEASURED_AGREEMENT_ZH
from alttrain.testing.standin import save_dataset, standin_records
from alttrain.training.stage import run_training

CONFIG = {
    "name": "smollm2-eval",
    "prompts": {"sources": [{"kind": "harmbench", "n": 6}, {"kind": "reasoning_gym", "size": 6, "seed": 0}]},
    "training": {"preset": "quick", "max_steps": 2, "threads": 1},
    "evaluation": {
        # a third model: an adapter trained elsewhere (here the tuned one with its LoRA update tripled)
        "models": {"base": {}, "tuned": {"adapter": "model/adapter"}, "star1": {"adapter": "peer/adapter"}},
        "benchmarks": [{"kind": "harmbench", "n": 2}, {"kind": "reasoning_gym", "n": 2}],
        "sampling": {"temperature": 0.0, "max_tokens": 32},
        "threads": 1,  # one thread: the CPU is shared, and two threads contend badly there
        "bootstrap_resamples": 200,
    },
}


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory: pytest.TempPathFactory, smollm2_path: Path) -> tuple[RunConfig, Path, EvaluationResult]:
    run_dir = tmp_path_factory.mktemp("smollm2-eval")
    config = parse_config(CONFIG)
    save_dataset(standin_records(harmful=6, benign=6, seed=0), run_dir / "dataset" / "hf")
    run_training(config, run_dir)
    _peer_adapter(run_dir / "model" / "adapter", run_dir / "peer" / "adapter")
    return config, run_dir, run_evaluation(config, run_dir)


def _peer_adapter(adapter: Path, peer: Path) -> None:
    """A copy of ``adapter`` whose LoRA B matrices are tripled: another adapter of the same base model."""
    from safetensors.torch import load_file, save_file

    shutil.copytree(adapter, peer)
    weights = load_file(peer / "adapter_model.safetensors")
    save_file({name: value * 3 if "lora_B" in name else value for name, value in weights.items()},
              peer / "adapter_model.safetensors")


def test_base_and_tuned_smollm2_give_a_complete_report(evaluated) -> None:
    config, run_dir, result = evaluated
    outcome, files = result.outcome, result.files
    base, tuned, star1 = outcome.models
    assert base.identity.startswith("transformers:smollm2-embedded@") and "+adapter@" not in base.identity
    assert tuned.identity.startswith(base.identity + "+adapter@")
    assert star1.identity.startswith(base.identity + "+adapter@") and star1.identity != tuned.identity
    assert [(run.answered, run.failed) for run in outcome.models] == [(4, 0)] * 3
    harmbench = next(c for c in outcome.counts if c.benchmark == "harmbench")
    assert harmbench.overlap_id == 6 and harmbench.evaluated == 2  # the six trained prompts are held out
    rows = outcome.rows
    by_model = {m: rows.filter(pl.col("model") == m).sort("id")["output"].to_list() for m in ("base", "tuned")}
    assert by_model["base"] != by_model["tuned"]  # the adapter is applied
    assert rows["reasoning_tokens"].is_between(1, 50).all()
    assert outcome.token_counter.startswith("hf tokenizer at")

    report = json.loads(files.json.read_text())
    metrics = {(m["benchmark"], m["metric"], m["model"]) for m in report["metrics"]}
    for pool, metric in (("all harmful", "harmful_rate"), ("all harmful", "refusal_rate"),
                         ("all benign", "over_refusal"), ("all benign", "accuracy"),
                         ("all benign", "structure_adherence"), ("all harmful", "reasoning_tokens_median")):
        assert {(pool, metric, "base"), (pool, metric, "tuned")} <= metrics
    tuned_delta = next(m for m in report["metrics"] if m["model"] == "tuned" and m["metric"] == "harmful_rate"
                       and m["benchmark"] == "all harmful")
    assert tuned_delta["paired_n"] == 2
    assert tuned_delta["delta_low"] <= tuned_delta["delta"] <= tuned_delta["delta_high"]
    markdown = files.markdown.read_text()
    for section in ("## Models", "## The paper's table", "## Headline: all harmful", "## Headline: all benign",
                    "### harmbench", "### reasoning_gym/gsm_symbolic", "## Held-out accounting", "## Judges",
                    "## Figures"):
        assert section in markdown
    assert MEASURED_AGREEMENT.sentence() in markdown  # the heuristic's agreement with a human-labelled set
    assert report["refusal_heuristic"]["measured_elsewhere"]["agreement"] == MEASURED_AGREEMENT.agreement
    assert MEASURED_AGREEMENT_ZH.sentence() in markdown  # and in Chinese, with how its labels were made
    assert report["refusal_heuristic"]["measured_elsewhere_zh"]["agreement"] == MEASURED_AGREEMENT_ZH.agreement
    assert [p.name for p in files.figures] == ["metrics.png", "reasoning_tokens.png", "safety_vs_capability.png"]
    assert all(p.stat().st_size > 10_000 for p in files.figures)
    table = json.loads((files.eval_dir / "paper_table.json").read_text())
    assert table["models"] == ["base", "tuned", "star1"]
    assert [c["title"] for c in table["columns"]] == [
        "safety ↓: harmbench", "capability ↑: reasoning_gym/gsm_symbolic", "reasoning tokens ↓: all harmful",
        "reasoning tokens ↓: all benign"]
    star1_cells = [c for c in table["cells"] if c["model"] == "star1"]
    assert len(star1_cells) == 4 and all(c["paired_n"] == 2 for c in star1_cells)
    assert files.paper_table.read_text().splitlines()[0] == "# The paper's table: run `smollm2-eval`"
    assert "| star1 | " in files.paper_table.read_text()
    assert [s["benchmark"] for s in json.loads(files.selection.read_text())["benchmarks"]] == [
        "harmbench", "reasoning_gym/gsm_symbolic"]
    assert summary_table(outcome, config).row_count == len(
        [m for m in report["metrics"] if m["model"] == "base" and m["benchmark"] in ("all harmful", "all benign")])


def test_eval_command_reuses_the_cache_and_prints_the_table(evaluated, tmp_path: Path) -> None:
    _, run_dir, result = evaluated
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(CONFIG, sort_keys=False))  # the models in their order
    before = result.files.markdown.read_text()
    output = CliRunner().invoke(app, ["eval", "--config", str(config_path), "--run-dir", str(run_dir)])
    assert output.exit_code == 0, output.output
    assert "harmful_rate" in output.output and "base: 4 answered, 0 failed" in output.output
    assert "refusal heuristic: accuracy 0.8" in output.output
    assert (run_dir / "eval" / "report.md").read_text() == before  # same answers, from the cache


def test_eval_command_without_an_adapter_is_a_user_error(tmp_path: Path) -> None:
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump({**CONFIG, "evaluation": {**CONFIG["evaluation"],
                                                                   "heldout": {"require_training_set": False}}}))
    output = CliRunner().invoke(app, ["eval", "--config", str(config_path), "--run-dir", str(tmp_path / "run")])
    assert output.exit_code == 2
    assert "no PEFT adapter here (run the 'train' stage first)" in output.output
