"""The evaluation report: ``RUN/eval/report.md``, ``report.json``, ``outputs.parquet``, figures, a rich table.

The headline compares every model with the baseline on the pooled harmful and benign rows: each value
with its bootstrap interval, and the paired difference to the baseline with its own interval. The paper's
table (:mod:`alttrain.evaluation.paper_table`) is a section of ``report.md`` and its own ``paper_table.md``
and ``paper_table.json``; every benchmark's selected ids go to ``selection.json``.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import polars as pl
from rich.table import Table

from alttrain.evaluation.categories import category_lines, harmful_rate_by_category
from alttrain.evaluation.figures import metric_bars, safety_vs_capability, token_distributions
from alttrain.evaluation.judge_agreement import agreement_lines, judge_agreement
from alttrain.evaluation.metrics import METRICS, POOLED_BENIGN, POOLED_HARMFUL
from alttrain.evaluation.paper_table import (
    PaperTable,
    build_paper_table,
    paper_table_json,
    paper_table_markdown,
    table_lines,
)
from alttrain.evaluation.run import EvaluationOutcome
from alttrain.evaluation.selection import write_selections
from alttrain.evaluation.view import EvaluationView
from alttrain.layout import (
    EVAL_DIR,
    OUTPUTS_NAME,
    PAPER_TABLE_JSON_NAME,
    PAPER_TABLE_MD_NAME,
    REPORT_JSON_NAME,
    REPORT_MD_NAME,
    SELECTION_NAME,
)
from alttrain.refusal import MEASURED_AGREEMENT, MEASURED_AGREEMENT_ZH
from alttrain.sections import fingerprint

REFUSAL_SET = "pyrit datasets/scorer_evals/refusal_scorer/refusal.csv"
TOKEN_METRICS = {"reasoning_tokens_mean", "reasoning_tokens_median"}
HEADLINE = (POOLED_HARMFUL, POOLED_BENIGN)


@dataclass(frozen=True)
class ReportFiles:
    """Where the report went."""

    eval_dir: Path
    markdown: Path
    json: Path
    outputs: Path
    figures: list[Path]
    paper_table: Path  # the markdown; paper_table.json beside it
    selection: Path


@dataclass(frozen=True)
class EvaluationResult:
    """What the evaluation stage measured and wrote."""

    outcome: EvaluationOutcome
    files: ReportFiles


def _number(value: float | None, metric: str) -> str:
    """A metric value for tables: tokens with one decimal, rates with three."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.1f}" if metric in TOKEN_METRICS else f"{value:.3f}"


def _cell(row: dict[str, Any]) -> str:
    """``value [low, high]``."""
    metric = row["metric"]
    return f"{_number(row['value'], metric)} [{_number(row['ci_low'], metric)}, {_number(row['ci_high'], metric)}]"


def _delta(row: dict[str, Any]) -> str:
    """``+d [low, high]`` of the paired difference, or a dash for the baseline."""
    if row["delta"] is None:
        return "-"
    metric = row["metric"]
    return (f"{row['delta']:+.1f}" if metric in TOKEN_METRICS else f"{row['delta']:+.3f}") + (
        f" [{_number(row['delta_low'], metric)}, {_number(row['delta_high'], metric)}]"
    )


def _metric_table(metrics: pl.DataFrame, benchmark: str, models: list[str]) -> list[str]:
    """A markdown table of one benchmark (or pool): a line per metric, value and delta per model."""
    rows = metrics.filter(pl.col("benchmark") == benchmark)
    header = ["metric", "n", *[f"{m}" for m in models], *[f"{m} - baseline" for m in models[1:]]]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for metric in METRICS:
        by_model = {r["model"]: r for r in rows.filter(pl.col("metric") == metric.name).iter_rows(named=True)}
        if not by_model:
            continue
        n = max(r["n"] for r in by_model.values())
        cells = [_cell(by_model[m]) if m in by_model else "n/a" for m in models]
        deltas = [_delta(by_model[m]) if m in by_model else "n/a" for m in models[1:]]
        arrow = "↓" if metric.better == "lower" else "↑"
        lines.append("| " + " | ".join([f"{metric.name} {arrow}", str(n), *cells, *deltas]) + " |")
    return lines


def ordered_models(config: EvaluationView) -> list[str]:
    """The models under test, the baseline first."""
    evaluation = config.evaluation
    return [evaluation.baseline, *[m for m in evaluation.models if m != evaluation.baseline]]


def paper_table(outcome: EvaluationOutcome, config: EvaluationView) -> PaperTable:
    """The paper's table of this evaluation (columns in the configured benchmark order)."""
    benchmarks = [count.benchmark for count in outcome.counts]
    return build_paper_table(outcome.rows, outcome.metrics, ordered_models(config), benchmarks)


def render_markdown(outcome: EvaluationOutcome, config: EvaluationView, figures: list[Path]) -> str:
    """The whole report as markdown."""
    evaluation = config.evaluation
    models = ordered_models(config)
    lines = [f"# Evaluation of run `{config.name}`", ""]
    lines += [f"Baseline: `{evaluation.baseline}`. Values are {evaluation.confidence:.0%} percentile bootstrap "
              f"intervals ({evaluation.bootstrap_resamples} resamples, seed {evaluation.seed}); differences are "
              "paired over the items both models answered. ↓/↑: lower/higher is better.", ""]
    lines += ["## Models", "", "| model | identity | answered | failed | max new tokens | cut off there |",
              "|" + "---|" * 6]
    lines += [f"| {r.name} | `{r.identity}` | {r.answered} | {r.failed} | {r.max_tokens} | {r.truncated} |"
              for r in outcome.models]
    lines += ["", "## The paper's table", "", *table_lines(paper_table(outcome, config), evaluation.confidence), "",
              f"Also as `{PAPER_TABLE_MD_NAME}` and `{PAPER_TABLE_JSON_NAME}`."]
    for pool in HEADLINE:
        if outcome.metrics.filter(pl.col("benchmark") == pool).height:
            lines += ["", f"## Headline: {pool}", "", *_metric_table(outcome.metrics, pool, models)]
    lines += ["", "## Per benchmark"]
    for count in outcome.counts:
        lines += ["", f"### {count.benchmark}", "", *_metric_table(outcome.metrics, count.benchmark, models)]
    lines += ["", "## Harmful rate per policy category", "", *category_lines(harmful_rate_by_category(outcome.rows),
                                                                              models)]  # fmt: skip
    lines += ["", "## Held-out accounting", ""]
    source = f"`{outcome.training_set}`" if outcome.training_set else "none found: NOT checked"
    lines += [f"Training set: {source}.", ""]
    lines += ["| benchmark | loaded | duplicate ids | overlap: id | overlap: text | overlap: near-dup | held out "
              "| evaluated |", "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {c.benchmark} | {c.loaded} | {c.duplicates} | {c.overlap_id} | {c.overlap_text} | "
              f"{c.overlap_near_dup} | {c.held_out} | {c.evaluated} |" for c in outcome.counts]
    pinned = [c for c in outcome.counts if c.commit is not None]
    if pinned:
        lines += ["", "Hub commits read: " + ", ".join(f"{c.benchmark} `{c.commit}`" for c in pinned) + "."]
    lines += ["", f"Every benchmark's selected item ids (in evaluation order), with its config (n, seed, data, "
              f"revision), loaded count, Hub commit and license: `{SELECTION_NAME}`."]
    lines += ["", "## Judges", ""]
    h = outcome.heuristic
    lines += [f"Refusal heuristic (`alttrain.refusal`) on {REFUSAL_SET}: accuracy {h.accuracy:.3f} over {h.n} "
              f"labelled responses (refusals caught {h.true_positive}, missed {h.false_negative}; non-refusals "
              f"kept {h.true_negative}, flagged {h.false_positive}). The set counts off-topic answers as refusals, "
              "which a text-only heuristic cannot see. On a larger human-labelled set: "
              f"{MEASURED_AGREEMENT.sentence()}. In Chinese: {MEASURED_AGREEMENT_ZH.sentence()}.", ""]
    for run in outcome.models:
        for judge, statuses in run.judges.items():
            name = "StrongREJECT LLM judge" if judge == "sr" else "guard model"
            lines.append(f"- {name} on `{run.name}`: " + ", ".join(f"{k} {v}" for k, v in statuses.items()))
    if not any(run.judges for run in outcome.models):
        lines.append("No model judge configured (`evaluation.judges`); harmful rate is the refusal heuristic's.")
    agreement = agreement_lines(judge_agreement(outcome.rows))
    if agreement:
        lines += ["", "Refusal decisions of the judges compared on the same harmful rows:", "", *agreement]
    lines += ["", f"Reasoning tokens counted with: {outcome.token_counter}.", "", "## Figures", ""]
    lines += [f"![{path.stem}]({path.as_posix()})" for path in figures] or ["No figure (no values to draw)."]
    lines += ["", "## Metrics", ""]
    lines += [f"- **{m.name}**: {m.description}." for m in METRICS]
    lines += ["", f"Every output is in `{OUTPUTS_NAME}` (one row per model and item, with scores and judge replies)."]
    return "\n".join(lines) + "\n"


def report_data(outcome: EvaluationOutcome, config: EvaluationView, figures: list[Path]) -> dict[str, Any]:
    """The report as JSON-ready data."""
    evaluation = config.evaluation
    h = outcome.heuristic
    return {
        "run": config.name,
        "evaluation_fingerprint": fingerprint(evaluation),
        "baseline": evaluation.baseline,
        "models": [asdict(run) for run in outcome.models],
        "training_set": str(outcome.training_set) if outcome.training_set else None,
        "benchmarks": [asdict(count) for count in outcome.counts],
        "refusal_heuristic": {"dataset": REFUSAL_SET, "accuracy": h.accuracy, **asdict(h),
                              "measured_elsewhere": asdict(MEASURED_AGREEMENT),
                              "measured_elsewhere_zh": asdict(MEASURED_AGREEMENT_ZH)},
        "judge_agreement": judge_agreement(outcome.rows).to_dicts(),
        "token_counter": outcome.token_counter,
        "bootstrap": {"resamples": evaluation.bootstrap_resamples, "confidence": evaluation.confidence,
                      "seed": evaluation.seed},
        "metrics": outcome.metrics.to_dicts(),
        "harmful_rate_by_category": harmful_rate_by_category(outcome.rows).to_dicts(),
        "figures": [path.as_posix() for path in figures],
    }


def write_report(outcome: EvaluationOutcome, config: EvaluationView, run_dir: Path) -> ReportFiles:
    """Write outputs, figures, ``report.md`` and ``report.json`` under ``RUN/eval``."""
    folder = run_dir / EVAL_DIR
    folder.mkdir(parents=True, exist_ok=True)
    outputs = folder / OUTPUTS_NAME
    outcome.rows.write_parquet(outputs)
    selection = folder / SELECTION_NAME
    write_selections(selection, outcome.selections)
    models = ordered_models(config)
    drawn = [metric_bars(outcome.metrics, models, folder), token_distributions(outcome.rows, models, folder),
             safety_vs_capability(outcome.metrics, models, folder)]  # fmt: skip
    figures = [path for path in drawn if path is not None]
    table = paper_table(outcome, config)
    table_md = folder / PAPER_TABLE_MD_NAME
    table_md.write_text(paper_table_markdown(table, config.name, config.evaluation.confidence), encoding="utf-8")
    (folder / PAPER_TABLE_JSON_NAME).write_text(paper_table_json(table, config.evaluation.confidence),
                                                encoding="utf-8")  # fmt: skip
    markdown = folder / REPORT_MD_NAME
    markdown.write_text(render_markdown(outcome, config, figures), encoding="utf-8")
    data = folder / REPORT_JSON_NAME
    data.write_text(json.dumps(report_data(outcome, config, figures), indent=2, allow_nan=False, ensure_ascii=False),
                    encoding="utf-8")
    return ReportFiles(folder, markdown, data, outputs, [folder / path for path in figures], table_md, selection)


def summary_table(outcome: EvaluationOutcome, config: EvaluationView) -> Table:
    """The headline as a rich table: one line per pooled metric, a column per model."""
    evaluation = config.evaluation
    models = ordered_models(config)
    table = Table(title=f"evaluation ({evaluation.confidence:.0%} CI)")
    table.add_column("pool")
    table.add_column("metric")
    for model in models:
        table.add_column(model, justify="right")
    for pool in HEADLINE:
        rows = outcome.metrics.filter(pl.col("benchmark") == pool)
        for metric in METRICS:
            by_model = {r["model"]: r for r in rows.filter(pl.col("metric") == metric.name).iter_rows(named=True)}
            if by_model:
                table.add_row(pool, metric.name, *[_cell(by_model[m]) if m in by_model else "n/a" for m in models])
    return table
