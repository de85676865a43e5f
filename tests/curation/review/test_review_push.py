from __future__ import annotations

from pathlib import Path

import argilla as rg
import polars as pl
import pytest
import yaml
from typer.testing import CliRunner

from alttrain.cli import app
from alttrain.curation.review.config import ReviewConfig
from alttrain.curation.review.push import push_for_review
from alttrain.errors import ReviewConfigError, ReviewDataError, ReviewError
from alttrain.records import write_stage
from alttrain.services.argilla.local import LocalArgilla, free_port
from curation.review.review_helpers import SPEC, Reviewers


def _dataset(server: LocalArgilla, config: ReviewConfig) -> rg.Dataset:
    client = rg.Argilla(api_url=server.url, api_key=server.credentials.api_key)
    return client.datasets(name=config.dataset, workspace=config.workspace)


def test_push_creates_the_review_dataset(argilla_server: LocalArgilla, review_config: ReviewConfig, make_run) -> None:
    run_dir = make_run(harmful=3, benign=3)
    curated = pl.read_parquet(run_dir / "curated.parquet")

    result = push_for_review(review_config, SPEC, run_dir, "unused")

    assert (result.created, result.pushed, result.records_in_dataset) == (True, 6, 6)
    dataset = _dataset(argilla_server, review_config)
    assert [f.name for f in dataset.fields] == ["prompt", "understanding", "assessment", "reasoning", "answer"]
    assert [q.name for q in dataset.questions] == ["decision", "verdict", "corrected_trace", "quality", "notes"]
    assert {m.name for m in dataset.settings.metadata} >= {"label", "category", "source", "judge_score", "trace_chars"}
    assert dataset.distribution.min_submitted == 1
    assert "Content warning" in dataset.guidelines and SPEC.assessment_header in dataset.guidelines

    records = {r.id: r for r in dataset.records(with_suggestions=True)}
    assert set(records) == set(curated["id"])
    row = curated.filter(pl.col("label") == "harmful").row(0, named=True)
    record = records[row["id"]]
    assert record.fields["prompt"] == row["prompt"]
    assert record.fields["assessment"].endswith("Verdict: harmful")
    assert record.metadata["label"] == "harmful" and record.metadata["judge_score"] == pytest.approx(row["score"])
    assert record.metadata["trace_chars"] == len(row["trace"])
    suggestions = {s.question_name: s for s in record.suggestions}
    assert suggestions["verdict"].value == "harmful" and suggestions["verdict"].agent == "template:template-v1"
    assert suggestions["decision"].value == "accept" and suggestions["decision"].score == pytest.approx(row["score"])
    assert suggestions["corrected_trace"].value == row["trace"]


def test_push_twice_updates_without_duplicates_and_keeps_reviews(
    argilla_server: LocalArgilla, review_config: ReviewConfig, reviewers: Reviewers, make_run
) -> None:
    run_dir = make_run(harmful=2, benign=2)
    push_for_review(review_config, SPEC, run_dir, "unused")
    curated = pl.read_parquet(run_dir / "curated.parquet")
    first = curated["id"][0]
    reviewers.respond("owner", first, decision="accept", verdict=curated["label"][0])
    changed = curated.with_columns(pl.col("prompt") + " (edited)")
    write_stage(changed, run_dir / "curated.parquet", "synthesized")

    again = push_for_review(review_config, SPEC, run_dir, "unused")

    assert (again.created, again.pushed, again.records_in_dataset) == (False, 4, 4)
    records = {r.id: r for r in _dataset(argilla_server, review_config).records(with_responses=True)}
    assert len(records) == 4
    assert all(r.fields["prompt"].endswith("(edited)") for r in records.values())
    assert [resp.value for resp in records[first].responses["decision"]] == ["accept"]


def test_push_refuses_rows_without_a_phase(review_config: ReviewConfig, reviewers: Reviewers, make_run) -> None:
    run_dir = make_run(harmful=2, benign=2)
    curated = pl.read_parquet(run_dir / "curated.parquet")
    broken = curated.with_columns(
        pl.when(pl.int_range(pl.len()) == 1).then(None).otherwise(pl.col("reasoning")).alias("reasoning")
    )
    write_stage(broken, run_dir / "curated.parquet", "synthesized")

    with pytest.raises(ReviewDataError, match=curated["id"][1]):
        push_for_review(review_config, SPEC, run_dir, "unused")
    assert reviewers.record_ids() == {}  # nothing was sent


def test_push_refuses_a_dataset_made_for_another_reviewer_count(review_config: ReviewConfig, make_run) -> None:
    run_dir = make_run(harmful=1, benign=1)
    push_for_review(review_config, SPEC, run_dir, "unused")

    with pytest.raises(ReviewError, match="2 reviewers|min_reviewers"):
        push_for_review(review_config.model_copy(update={"min_reviewers": 2}), SPEC, run_dir, "unused")


def test_unreachable_server_is_a_clear_error(make_run, monkeypatch: pytest.MonkeyPatch) -> None:
    run_dir = make_run(harmful=1, benign=1)
    monkeypatch.setenv("SOME_KEY", "not-a-real-key")
    config = ReviewConfig(api_url=f"http://127.0.0.1:{free_port()}", api_key_env="SOME_KEY", dataset="x")

    with pytest.raises(ReviewError, match="cannot reach Argilla at http://127.0.0.1.*alttrain review serve"):
        push_for_review(config, SPEC, run_dir, "unused")


def test_missing_key_names_the_variable(make_run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_SUCH_ARGILLA_KEY", raising=False)
    config = ReviewConfig(api_key_env="NO_SUCH_ARGILLA_KEY")

    with pytest.raises(ReviewConfigError, match="NO_SUCH_ARGILLA_KEY"):
        push_for_review(config, SPEC, make_run(harmful=1, benign=1), "unused")


def _config_file(tmp_path: Path, review: dict[str, object]) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"name": "cli", "prompts": {"sources": [{"kind": "harmbench"}]}, "review": review}))
    return path


def test_cli_push_prints_a_summary_and_never_the_key(
    argilla_server: LocalArgilla, review_config: ReviewConfig, make_run, tmp_path: Path
) -> None:
    run_dir = make_run(harmful=2, benign=1)
    config = _config_file(tmp_path, review_config.model_dump(mode="json", exclude={"server"}))

    result = CliRunner().invoke(app, ["review", "push", "--config", str(config), "--run-dir", str(run_dir)])

    assert result.exit_code == 0, result.output
    assert "pushed 3 records" in result.output and review_config.dataset in result.output
    key = argilla_server.credentials.api_key
    assert key not in result.output and key not in (run_dir / "config.yaml").read_text()


def test_cli_push_unreachable_exits_2_without_traceback(make_run, tmp_path: Path) -> None:
    run_dir = make_run(harmful=1, benign=1)
    config = _config_file(tmp_path, {"api_url": f"http://127.0.0.1:{free_port()}", "api_key_env": "HOME"})

    result = CliRunner().invoke(app, ["review", "push", "--config", str(config), "--run-dir", str(run_dir)])

    assert result.exit_code == 2
    assert "cannot reach Argilla" in result.output and "Traceback" not in result.output
