"""The paper's table: one row per model (the baseline first), one column per benchmark and side of the claim.

Columns are derived from the scored rows, never from a list of benchmark names, so a new benchmark lands
in its group by itself:

* **safety ↓**: a benchmark's harmful rows. The cell is the StrongREJECT rubric judge's score where that
  judge scored them, else the guard model's unsafe rate where it ran, else the refusal heuristic's harmful
  rate; the column says which.
* **over-refusal ↓**: benign rows with nothing to grade (no scorer, references, score or answer check:
  XSTest safe, JailbreakBench benign, WildJailbreak benign): the rate refused (refusal heuristic).
* **capability ↑**: benign rows with a reference: ``accuracy`` where the scorer says right or wrong, else
  the graded ``score`` (a scorer that only grades, e.g. ROUGE-L).
* **reasoning tokens ↓**: the median reasoning tokens over every harmful and every benign row (shorter is better).

Each cell holds the value with its bootstrap interval (from :func:`compute_metrics`), for other models the
paired change to the baseline with a mark where its interval excludes 0, and how many of the cell's
outputs stopped at the token limit.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

import polars as pl

from alttrain.evaluation.metrics import METRICS, POOLED_BENIGN, POOLED_HARMFUL

Group = Literal["safety", "over_refusal", "capability", "reasoning"]
Change = Literal["better", "worse"]
GROUP_TITLES: dict[str, str] = {
    "safety": "safety ↓", "over_refusal": "over-refusal ↓", "capability": "capability ↑",
    "reasoning": "reasoning tokens ↓",
}
#: the judged safety metrics, preferred in this order when their judge scored the column's rows
SAFETY_METRICS: tuple[tuple[str, str, str], ...] = (
    ("strongreject_score", "sr_score", "StrongREJECT rubric judge"),
    ("guard_unsafe_rate", "guard_unsafe", "guard model"),
    ("harmful_rate", "complied", "refusal heuristic"),
)
#: columns whose presence marks a benign item as graded against a reference
REFERENCE_COLUMNS = ("scorer", "references", "reference_answer", "score", "answer_correct")
TOKEN_METRIC = "reasoning_tokens_median"
MARKS: dict[str, str] = {"rose": "▲", "fell": "▼"}


@dataclass(frozen=True)
class Column:
    """One column: a benchmark's rows of one group, the metric its cells show and who judged it."""

    group: Group
    benchmark: str
    label: Literal["harmful", "benign"]
    metric: str
    judge: str
    better: Literal["lower", "higher"]

    @property
    def title(self) -> str:
        """The header: group and benchmark."""
        return f"{GROUP_TITLES[self.group]}: {self.benchmark}"


@dataclass(frozen=True)
class Cell:
    """One model's value in one column (column fields repeated so each cell reads alone in JSON)."""

    model: str
    group: Group
    benchmark: str
    metric: str
    n: int
    value: float
    ci_low: float
    ci_high: float
    delta: float | None
    delta_low: float | None
    delta_high: float | None
    paired_n: int | None
    change: Change | None  # the paired interval excludes 0, in the column's better or worse direction
    cut_off: int  # outputs of this cell that stopped at the token limit


@dataclass(frozen=True)
class PaperTable:
    """The table: models (baseline first), columns in group order, and every cell that has a value."""

    models: list[str]
    columns: list[Column]
    cells: list[Cell]

    def cell(self, model: str, column: Column) -> Cell | None:
        """The cell of ``model`` in ``column`` (None: no value)."""
        return next((c for c in self.cells if c.model == model and (c.group, c.benchmark) ==
                     (column.group, column.benchmark)), None)  # fmt: skip


def _present(rows: pl.DataFrame, column: str) -> bool:
    """Whether ``column`` holds a value (a non-empty list, for list columns) in any of ``rows``."""
    if column not in rows.columns:
        return False
    values = rows[column]
    if values.dtype == pl.List:
        return bool((values.list.len() > 0).any())
    return values.null_count() < values.len()


def _columns_of(benchmark: str, rows: pl.DataFrame) -> list[Column]:
    """The columns one benchmark's answered rows fill (a benchmark with both labels fills two)."""
    columns = []
    harmful = rows.filter(pl.col("label") == "harmful")
    if harmful.height:
        metric, _, judge = next((m for m in SAFETY_METRICS if _present(harmful, m[1])), SAFETY_METRICS[-1])
        columns.append(Column("safety", benchmark, "harmful", metric, judge, "lower"))
    benign = rows.filter(pl.col("label") == "benign")
    if benign.height and any(_present(benign, name) for name in REFERENCE_COLUMNS):
        graded = _present(benign, "answer_correct") or not _present(benign, "score")
        checks = sorted(set(benign["answer_check"].drop_nulls())) if "answer_check" in benign.columns else []
        judge = ", ".join(checks) or "reference scorer"
        columns.append(Column("capability", benchmark, "benign", "accuracy" if graded else "score", judge, "higher"))
    elif benign.height:
        columns.append(Column("over_refusal", benchmark, "benign", "over_refusal", "refusal heuristic", "lower"))
    return columns


def _change(row: dict[str, Any], better: str) -> Change | None:
    """``better``/``worse`` when the paired interval excludes 0, else None."""
    if row["delta_low"] is None or row["delta_high"] is None or row["delta_low"] <= 0 <= row["delta_high"]:
        return None
    rose = row["delta_low"] > 0
    return "better" if rose == (better == "higher") else "worse"


def build_paper_table(
    rows: pl.DataFrame, metrics: pl.DataFrame, models: list[str], benchmarks: list[str]
) -> PaperTable:
    """Lay out the table from scored rows and their metrics.

    Args:
        rows: every model's scored rows (``model``, ``benchmark``, ``label``, ``error``, ``cut_off`` and scores).
        metrics: :func:`alttrain.evaluation.metrics.compute_metrics` of those rows.
        models: the models, baseline first.
        benchmarks: the benchmarks in the order the columns take within each group.

    """
    answered = rows.filter(pl.col("error").is_null()) if "error" in rows.columns else rows
    columns = [c for b in benchmarks for c in _columns_of(b, answered.filter(pl.col("benchmark") == b))]
    columns.sort(key=lambda c: list(GROUP_TITLES).index(c.group))  # stable: benchmark order within a group
    better = {m.name: m.better for m in METRICS}
    columns += [Column("reasoning", pool, label, TOKEN_METRIC, "token counter", better[TOKEN_METRIC])
                for pool, label in ((POOLED_HARMFUL, "harmful"), (POOLED_BENIGN, "benign"))
                if answered.filter(pl.col("label") == label).height]  # fmt: skip
    cells = []
    for column in columns:
        scope = answered.filter(pl.col("label") == column.label)
        if column.group != "reasoning":
            scope = scope.filter(pl.col("benchmark") == column.benchmark)
        found = metrics.filter((pl.col("benchmark") == column.benchmark) & (pl.col("metric") == column.metric))
        for row in found.iter_rows(named=True):
            if row["model"] not in models:
                continue
            cut = scope.filter((pl.col("model") == row["model"]) & pl.col("cut_off").fill_null(False)).height
            cells.append(Cell(
                model=row["model"], group=column.group, benchmark=column.benchmark, metric=column.metric, n=row["n"],
                value=row["value"], ci_low=row["ci_low"], ci_high=row["ci_high"], delta=row["delta"],
                delta_low=row["delta_low"], delta_high=row["delta_high"], paired_n=row["paired_n"],
                change=_change(row, column.better), cut_off=cut,
            ))  # fmt: skip
    return PaperTable(models, columns, cells)


def _number(value: float | None, tokens: bool, signed: bool = False) -> str:
    """Rates with three decimals, tokens with one; ``n/a`` for a missing value."""
    if value is None or math.isnan(value):
        return "n/a"
    return f"{value:{'+' if signed else ''}.{1 if tokens else 3}f}"


def cell_text(cell: Cell) -> str:
    """``value [low, high]``, then ``Δ change [low, high] mark`` and ``k cut off`` where they apply."""
    tokens = cell.group == "reasoning"
    text = f"{_number(cell.value, tokens)} [{_number(cell.ci_low, tokens)}, {_number(cell.ci_high, tokens)}]"
    if cell.delta is not None:
        text += (f" · Δ {_number(cell.delta, tokens, signed=True)} [{_number(cell.delta_low, tokens, signed=True)}, "
                 f"{_number(cell.delta_high, tokens, signed=True)}]")  # fmt: skip
        if cell.change is not None:
            text += f" {MARKS['rose' if (cell.delta_low or 0) > 0 else 'fell']} {cell.change}"
    if cell.cut_off:
        text += f" · {cell.cut_off} cut off"
    return text


def table_lines(table: PaperTable, confidence: float) -> list[str]:
    """The table as markdown lines: the grid, its legend and what each column measures."""
    header = ["model", *[column.title for column in table.columns]]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for model in table.models:
        cells = [table.cell(model, column) for column in table.columns]
        lines.append("| " + " | ".join([model, *[cell_text(c) if c else "n/a" for c in cells]]) + " |")
    lines += ["", f"Each cell: the value [its {confidence:.0%} bootstrap interval]; for every model but the baseline "
              f"(`{table.models[0]}`), Δ the paired change to the baseline [its interval]. ▲/▼: that interval excludes "
              "0 and the value rose/fell; `better`/`worse`: in the column's better (↓ lower, ↑ higher) or worse "
              "direction; no mark: not significant. `k cut off`: k of the cell's outputs stopped at the token limit "
              "(they are scored on what they said).", "", "| column | rows | metric | judged by |", "|---|---|---|---|"]
    lines += [f"| {c.title} | {c.label} | `{c.metric}` | {c.judge} |" for c in table.columns]
    return lines


def paper_table_markdown(table: PaperTable, run: str, confidence: float) -> str:
    """``paper_table.md``: a title and :func:`table_lines`."""
    return "\n".join([f"# The paper's table: run `{run}`", "", *table_lines(table, confidence)]) + "\n"


def paper_table_json(table: PaperTable, confidence: float) -> str:
    """``paper_table.json``: models, columns (with their titles) and cells."""
    columns = [{**asdict(column), "title": column.title} for column in table.columns]
    data = {"baseline": table.models[0], "confidence": confidence, "models": table.models, "columns": columns,
            "cells": [asdict(cell) for cell in table.cells],
            "change": "better/worse: the paired interval of the change excludes 0, in the column's better/worse "
                      "direction"}
    return json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
