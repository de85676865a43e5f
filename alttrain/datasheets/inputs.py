"""Read every file of a run that a datasheet documents, with clear errors for the missing ones.

Required: ``prompts.parquet``, ``synthesized.parquet``, ``curated.parquet`` and
``curation_report.json``. Optional: ``config.yaml``, ``rejected.parquet``, ``reviewed.parquet``
with ``review_report.json``, and how synthesis sent its requests: ``scaleout.json`` (executor, actors)
and ``batches.json`` (the batch teacher's batches and accounting). The final dataset is
``reviewed.parquet`` when it exists, else ``curated.parquet``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from alttrain.errors import DatasheetError, MissingInputError
from alttrain.hub_revision import recorded_commits
from alttrain.layout import (
    BATCHES_FILE,
    CONFIG_FILE,
    CURATED_FILE,
    CURATION_REPORT_FILE,
    PROMPTS_FILE,
    REJECTED_FILE,
    REVIEW_REPORT_FILE,
    REVIEWED_FILE,
    SCALEOUT_FILE,
    SYNTHESIZED_FILE,
)
from alttrain.records import STATUS_OK, check_schema, read_stage

FINAL_REQUIRED = ("id", "prompt", "label", "category", "source", "license", "understanding", "assessment",
                  "verdict", "reasoning", "answer", "trace")


@dataclass(frozen=True)
class RunInputs:
    """Every run file the datasheet reads, loaded."""

    run_dir: Path
    resolved_config: dict[str, Any] | None
    prompts: pl.DataFrame
    synthesized: pl.DataFrame
    curated: pl.DataFrame
    rejected: pl.DataFrame | None
    curation_report: dict[str, Any]
    reviewed: pl.DataFrame | None
    review_report: dict[str, Any] | None
    scaleout: dict[str, Any] | None  # RUN/scaleout.json: how synthesis sent its requests
    batches: dict[str, Any] | None  # RUN/batches.json: the batch teacher's batches and accounting
    written_between: tuple[str, str]  # UTC dates of the oldest and newest data file
    hub_commits: dict[str, str]  # source -> the Hub commit it was read at (prompts.parquet metadata)

    @property
    def final(self) -> pl.DataFrame:
        """The final dataset: reviewed rows when a review happened, else the curated ones."""
        return self.reviewed if self.reviewed is not None else self.curated

    @property
    def final_stage(self) -> str:
        """Which stage wrote the final dataset (``review`` or ``curate``)."""
        return "review" if self.reviewed is not None else "curate"


def _require(path: Path, command: str) -> Path:
    """Return ``path`` or raise a MissingInputError naming the command that writes it."""
    if not path.exists():
        raise MissingInputError(f"{path}: not found (run `alttrain {command}` first)")
    return path


def _read_frame(path: Path, command: str) -> pl.DataFrame:
    """Read a parquet file written after synthesis; it must carry the synthesized columns."""
    frame = pl.read_parquet(_require(path, command))
    check_schema(frame, "synthesized", str(path))
    return frame


def _read_json(path: Path, command: str) -> dict[str, Any]:
    """Read a JSON report; it must be an object."""
    try:
        data = json.loads(_require(path, command).read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise DatasheetError(f"{path}: not valid JSON ({error.msg} at line {error.lineno})") from None
    if not isinstance(data, dict):
        raise DatasheetError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def _check_final(frame: pl.DataFrame, path: Path) -> None:
    """Check that the final dataset holds only complete ``ok`` rows with unique ids."""
    missing = [column for column in FINAL_REQUIRED if column not in frame.columns]
    if missing:
        raise DatasheetError(f"{path}: missing columns {missing}")
    if frame.is_empty():
        raise DatasheetError(f"{path}: no rows to document")
    not_ok = frame.filter(pl.col("status") != STATUS_OK)["id"].to_list()
    if not_ok:
        raise DatasheetError(f"{path}: {len(not_ok)} rows are not status {STATUS_OK!r} (ids {not_ok[:5]})")
    incomplete = frame.filter(pl.any_horizontal(pl.col(list(FINAL_REQUIRED)).is_null()))["id"].to_list()
    if incomplete:
        raise DatasheetError(f"{path}: {len(incomplete)} rows lack required fields (ids {incomplete[:5]})")
    duplicated = frame.filter(pl.col("id").is_duplicated())["id"].unique().to_list()
    if duplicated:
        raise DatasheetError(f"{path}: duplicate ids {duplicated[:5]}")


def _written_between(paths: list[Path]) -> tuple[str, str]:
    """UTC dates of the oldest and newest of ``paths`` (by modification time)."""
    stamps = sorted(datetime.fromtimestamp(p.stat().st_mtime, tz=UTC).date().isoformat() for p in paths)
    return stamps[0], stamps[-1]


def load_run_inputs(run_dir: Path) -> RunInputs:
    """Load the run files under ``run_dir``.

    Raises:
        MissingInputError: a required file is missing (the message names the command that writes it).
        SchemaError: a stage file misses its columns.
        DatasheetError: a report is not JSON, or the final dataset has incomplete or non-ok rows.

    """
    if not run_dir.is_dir():
        raise MissingInputError(f"{run_dir}: run directory not found (run `alttrain prompts` first)")
    config_path = run_dir / CONFIG_FILE
    resolved = yaml.safe_load(config_path.read_text(encoding="utf-8")) if config_path.exists() else None
    prompts = read_stage(_require(run_dir / PROMPTS_FILE, "prompts"), "prompts")
    hub_commits = recorded_commits(run_dir / PROMPTS_FILE)
    synthesized = read_stage(_require(run_dir / SYNTHESIZED_FILE, "synthesize"), "synthesized")
    curated = _read_frame(run_dir / CURATED_FILE, "curate")
    report = _read_json(run_dir / CURATION_REPORT_FILE, "curate")
    rejected_path = run_dir / REJECTED_FILE
    rejected = _read_frame(rejected_path, "curate") if rejected_path.exists() else None
    reviewed_path = run_dir / REVIEWED_FILE
    reviewed = _read_frame(reviewed_path, "review") if reviewed_path.exists() else None
    review_report = _read_json(run_dir / REVIEW_REPORT_FILE, "review") if reviewed is not None else None
    final_path = reviewed_path if reviewed is not None else run_dir / CURATED_FILE
    optional = {name: _read_json(run_dir / name, "synthesize") if (run_dir / name).exists() else None
                for name in (SCALEOUT_FILE, BATCHES_FILE)}  # fmt: skip
    inputs = RunInputs(
        run_dir=run_dir,
        resolved_config=resolved if isinstance(resolved, dict) else None,
        prompts=prompts,
        hub_commits=hub_commits,
        synthesized=synthesized,
        curated=curated,
        rejected=rejected,
        curation_report=report,
        reviewed=reviewed,
        review_report=review_report,
        scaleout=optional[SCALEOUT_FILE],
        batches=optional[BATCHES_FILE],
        written_between=_written_between([run_dir / PROMPTS_FILE, run_dir / SYNTHESIZED_FILE, final_path]),
    )
    _check_final(inputs.final, final_path)
    return inputs
