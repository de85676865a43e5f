"""The run's funnel, prompt pool to final dataset, with every step's count checked to add up."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from alttrain.datasheets.inputs import CURATION_REPORT_FILE, RunInputs
from alttrain.errors import DatasheetError
from alttrain.records import STATUS_OK


@dataclass(frozen=True)
class FunnelStep:
    """One step: which stage, what it did, how many rows it removed and how many remain."""

    stage: str
    step: str
    removed: int
    remaining: int


def _curation_steps(report: dict[str, Any], synthesized: int, ok: int) -> list[FunnelStep]:
    """Read the curation report's steps: filters (dropped), dedup (merged), selection (not selected).

    Raises:
        DatasheetError: when the report's counts disagree with synthesized.parquet or miss a field.

    """
    try:
        return _read_steps(report, synthesized, ok)
    except DatasheetError:
        raise
    except (KeyError, TypeError, ValueError) as error:
        raise DatasheetError(f"{CURATION_REPORT_FILE}: unreadable funnel ({error!r})") from None


def _read_steps(report: dict[str, Any], synthesized: int, ok: int) -> list[FunnelStep]:
    """Steps of a curation report (see :func:`_curation_steps`)."""
    steps: list[FunnelStep] = []
    rows_in = int(report.get("rows_in", synthesized))
    if rows_in != synthesized:
        raise DatasheetError(f"{CURATION_REPORT_FILE}: rows_in {rows_in} but synthesized.parquet has {synthesized}")
    remaining = int(report["input"])
    if remaining != ok:
        raise DatasheetError(f"{CURATION_REPORT_FILE}: input {remaining} but synthesis kept {ok} rows")
    for key, verb in (("filters", "dropped"), ("dedup", "merged")):
        for item in report.get(key, []):
            removed = int(item[verb])
            remaining -= removed
            steps.append(FunnelStep("curate", f"{key}: {item['name']}", removed, remaining))
    selected = int(report["selected"])
    steps.append(FunnelStep("curate", "selection", int(report.get("not_selected", remaining - selected)), selected))
    return steps


def _check(steps: list[FunnelStep], final_rows: int) -> None:
    """Raise when a step's counts do not follow from the previous step, or the end is not the dataset."""
    for before, after in zip(steps, steps[1:], strict=False):
        if after.removed < 0 or before.remaining - after.removed != after.remaining:
            raise DatasheetError(
                f"funnel does not add up at {after.stage}/{after.step}: "
                f"{before.remaining} - {after.removed} != {after.remaining}"
            )
    if steps[-1].remaining != final_rows:
        raise DatasheetError(f"funnel ends at {steps[-1].remaining} rows but the dataset has {final_rows}")


def funnel_steps(inputs: RunInputs) -> list[FunnelStep]:
    """Every step from the prompt pool to the final dataset.

    Raises:
        DatasheetError: when the counts of consecutive steps do not add up.

    """
    pooled = inputs.prompts.height
    synthesized = inputs.synthesized.height
    ok = inputs.synthesized.filter(pl.col("status") == STATUS_OK).height
    steps = [FunnelStep("prompts", "prompt pool", 0, pooled)]
    if synthesized != pooled:
        skipped = pooled - synthesized
        steps.append(FunnelStep("synthesize", "not synthesized (synthesis.limit)", skipped, synthesized))
    steps.append(FunnelStep("synthesize", "quarantined (teacher failure or invalid structure)", synthesized - ok, ok))
    steps += _curation_steps(inputs.curation_report, synthesized, ok)
    if inputs.reviewed is not None:
        curated = inputs.curated.height
        steps.append(FunnelStep("review", "rejected in human review", curated - inputs.reviewed.height,
                                inputs.reviewed.height))
    _check(steps, inputs.final.height)
    return steps
