import shutil
from pathlib import Path

import polars as pl
import pytest

from alttrain.datasheets.inputs import load_run_inputs
from alttrain.errors import DatasheetError, SchemaError

from .runs import Run


@pytest.fixture
def run_copy(template_run: Run, tmp_path: Path) -> Path:
    target = tmp_path / "run"
    shutil.copytree(template_run.run_dir, target, ignore=shutil.ignore_patterns("dataset", "datasheet"))
    return target


@pytest.mark.parametrize(("missing", "command"), [
    ("prompts.parquet", "prompts"), ("synthesized.parquet", "synthesize"),
    ("curated.parquet", "curate"), ("curation_report.json", "curate"),
])
def test_missing_stage_file_names_the_command(run_copy: Path, missing: str, command: str) -> None:
    (run_copy / missing).unlink()
    with pytest.raises(FileNotFoundError, match=rf"{missing}: not found \(run `alttrain {command}` first\)"):
        load_run_inputs(run_copy)


def test_missing_run_dir(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="run directory not found"):
        load_run_inputs(tmp_path / "nowhere")


def test_reviewed_without_its_report(run_copy: Path) -> None:
    shutil.copy(run_copy / "curated.parquet", run_copy / "reviewed.parquet")
    with pytest.raises(FileNotFoundError, match=r"review_report.json: not found \(run `alttrain review` first\)"):
        load_run_inputs(run_copy)


def test_report_that_is_not_json(run_copy: Path) -> None:
    (run_copy / "curation_report.json").write_text("{not json")
    with pytest.raises(DatasheetError, match="curation_report.json: not valid JSON"):
        load_run_inputs(run_copy)
    (run_copy / "curation_report.json").write_text("[1, 2]")
    with pytest.raises(DatasheetError, match="expected a JSON object, got list"):
        load_run_inputs(run_copy)


def test_curated_file_without_trace_columns(run_copy: Path) -> None:
    pl.read_parquet(run_copy / "curated.parquet").drop("trace").write_parquet(run_copy / "curated.parquet")
    with pytest.raises(SchemaError, match="curated.parquet: missing column 'trace'"):
        load_run_inputs(run_copy)


def test_final_rows_must_be_complete_and_ok(run_copy: Path) -> None:
    path = run_copy / "curated.parquet"
    curated = pl.read_parquet(path)
    bad_id = curated["id"][1]
    curated.with_columns(pl.when(pl.col("id") == bad_id).then(pl.lit("quarantined")).otherwise(pl.col("status"))
                         .alias("status")).write_parquet(path)
    with pytest.raises(DatasheetError, match=rf"1 rows are not status 'ok' \(ids \['{bad_id}'\]\)"):
        load_run_inputs(run_copy)
    curated.with_columns(pl.when(pl.col("id") == bad_id).then(None).otherwise(pl.col("answer"))
                         .alias("answer")).write_parquet(path)
    with pytest.raises(DatasheetError, match=rf"1 rows lack required fields \(ids \['{bad_id}'\]\)"):
        load_run_inputs(run_copy)
    pl.concat([curated, curated.head(1)]).write_parquet(path)
    with pytest.raises(DatasheetError, match="duplicate ids"):
        load_run_inputs(run_copy)
    curated.head(0).write_parquet(path)
    with pytest.raises(DatasheetError, match="no rows to document"):
        load_run_inputs(run_copy)
