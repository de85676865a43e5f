"""The curation funnel: rows in, dropped per filter (by reason), merged per dedup step, selected.

Counts are checked to add up whenever a report is built: every row of synthesized.parquet is either
quarantined before curation, dropped by exactly one step, or selected.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from alttrain.neardup import SharedTemplate
from alttrain.refusal import MEASURED_AGREEMENT, MEASURED_AGREEMENT_ZH


class FunnelError(AssertionError):
    """Funnel counts that do not add up (a bug, never a user error)."""


@dataclass(frozen=True)
class FunnelStep:
    """One step: its name, how many rows it removed and why (reason -> rows)."""

    name: str
    removed: int
    reasons: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class CurationReport:
    """Everything the datasheet needs about curation; ``input`` counts the rows with status ok."""

    rows_in: int
    quarantined: FunnelStep
    input: int
    filters: list[FunnelStep]
    dedup: list[FunnelStep]
    not_selected: int
    selected: int
    selected_by_label: dict[str, int]
    selected_by_category: dict[str, int]
    length_reduction: dict[str, float | int | None]
    warnings: list[str]
    shared_templates: list[SharedTemplate] = field(default_factory=list)  # left out of near-dup comparison

    def __post_init__(self) -> None:
        removed = sum(s.removed for s in self.filters) + sum(s.removed for s in self.dedup)
        if self.rows_in != self.quarantined.removed + self.input:
            raise FunnelError(f"rows in {self.rows_in} != quarantined {self.quarantined.removed} + input {self.input}")
        if self.input != removed + self.not_selected + self.selected:
            raise FunnelError(
                f"input {self.input} != removed {removed} + not selected {self.not_selected} + selected {self.selected}"
            )
        for step in (self.quarantined, *self.filters, *self.dedup):
            if sum(step.reasons.values()) != step.removed:
                raise FunnelError(f"step {step.name}: reasons sum to {sum(step.reasons.values())}, not {step.removed}")

    def table(self) -> list[tuple[str, int, int]]:
        """(step, removed, remaining) from the input to the selection, for printing."""
        rows = [("rows in", 0, self.rows_in), ("synthesis quarantine", self.quarantined.removed, self.input)]
        remaining = self.input
        for prefix, steps in (("filter", self.filters), ("dedup", self.dedup)):
            for step in steps:
                remaining -= step.removed
                rows.append((f"{prefix}: {step.name}", step.removed, remaining))
        rows.append(("selection", self.not_selected, self.selected))
        return rows

    def to_json(self) -> dict[str, Any]:
        """The JSON form (``filters[].dropped``, ``dedup[].merged``: the datasheet's funnel reads these).

        With a ``refusal`` filter, ``refusal_heuristic`` records the heuristic's measured agreement with human labels.
        """
        data = asdict(self)
        data["quarantined"] = {"count": self.quarantined.removed, "reasons": self.quarantined.reasons}
        data["filters"] = [{"name": s.name, "dropped": s.removed, "reasons": s.reasons} for s in self.filters]
        data["dedup"] = [{"name": s.name, "merged": s.removed, "reasons": s.reasons} for s in self.dedup]
        if any(s.name == "refusal" for s in self.filters):  # its drops rest on the refusal heuristic
            data["refusal_heuristic"] = asdict(MEASURED_AGREEMENT)
            data["refusal_heuristic_zh"] = asdict(MEASURED_AGREEMENT_ZH)
        return data

    def write(self, path: Path) -> None:
        """Write the JSON report atomically."""
        tmp = path.with_suffix(path.suffix + ".tmp")
        text = json.dumps(self.to_json(), indent=2, sort_keys=False, ensure_ascii=False)  # Chinese stays readable
        tmp.write_text(text + "\n", encoding="utf-8")
        tmp.replace(path)


def step_of(name: str, dropped: pl.DataFrame, reason_column: str, group_prefix: bool = False) -> FunnelStep:
    """A funnel step from the rows it dropped, counted by reason (``dedup:near:<id>`` grouped as one)."""
    reasons = dropped[reason_column]
    if group_prefix:
        reasons = reasons.str.replace(r"^(dedup:near):.*$", "$1")
    counts = reasons.value_counts(sort=True)
    return FunnelStep(name, dropped.height, {str(r): int(n) for r, n in counts.iter_rows()})


def reduction_stats(curated: pl.DataFrame) -> dict[str, float | int | None]:
    """Rows measured and mean/median/p10/p90 of ``length_reduction`` among the selected rows."""
    values = curated["length_reduction"].drop_nulls() if "length_reduction" in curated.columns else pl.Series([])
    if values.len() == 0:
        return {"rows": 0, "mean": None, "median": None, "p10": None, "p90": None}
    return {
        "rows": values.len(),
        "mean": float(values.mean()),  # type: ignore[arg-type]
        "median": float(values.median()),  # type: ignore[arg-type]
        "p10": float(values.quantile(0.1)),  # type: ignore[arg-type]
        "p90": float(values.quantile(0.9)),  # type: ignore[arg-type]
    }
