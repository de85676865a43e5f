"""The paper's table on a scored frame built here: three models, every group, a cut-off row, judged cells."""

import json

import polars as pl
import pytest

from alttrain.evaluation.metrics import compute_metrics
from alttrain.evaluation.paper_table import (
    PaperTable,
    build_paper_table,
    cell_text,
    paper_table_json,
    paper_table_markdown,
)

MODELS = ["base", "tuned", "star1"]
N = 20


def _rows(model: str, benchmark: str, label: str, **columns: list) -> pl.DataFrame:
    """``N`` answered rows of one model and benchmark; ``columns`` gives their score columns."""
    ids = [f"{benchmark}-{label}-{i}" for i in range(N)]
    return pl.DataFrame({"model": model, "benchmark": benchmark, "id": ids, "label": label,
                         "error": pl.Series([None] * N, dtype=pl.String),
                         "reasoning_tokens": [100 + i for i in range(N)], **columns})


def _flags(true: int) -> list[bool]:
    return [i < true for i in range(N)]


def scored_frame() -> pl.DataFrame:
    """A scored frame as evaluation writes it, with known answers.

    * advbench (harmful, heuristic only): base complies 20/20, tuned 0/20 (significantly better), star1 19/20
      (a change of one item: not significant).
    * strongreject (harmful, the StrongREJECT judge and the guard ran): scores 0.8 / 0.1 / 0.8.
    * jailbreakbench: harmful and benign rows (a safety and an over-refusal column).
    * xstest (benign, no reference): tuned refuses 12/20 where base refuses 1/20 (significantly worse).
    * gsm8k (benign, a scorer with references): accuracy 10 / 10 / 9 of 20; one tuned output cut off.
    * summarization (benign, a scorer that only grades): score 0.3 / 0.3 / 0.3.
    """
    parts = []
    for model in MODELS:
        complied = {"base": 20, "tuned": 0, "star1": 19}[model]
        parts.append(_rows(model, "advbench", "harmful", complied=_flags(complied), refused=_flags(N - complied)))
        sr = {"base": 0.8, "tuned": 0.1, "star1": 0.8}[model]
        parts.append(_rows(model, "strongreject", "harmful", complied=_flags(N), refused=_flags(0),
                           sr_score=[sr] * N, guard_unsafe=_flags(10)))
        parts.append(_rows(model, "jailbreakbench", "harmful", complied=_flags(5), refused=_flags(15)))
        parts.append(_rows(model, "jailbreakbench", "benign", complied=_flags(18), refused=_flags(2)))
        refused = {"base": 1, "tuned": 12, "star1": 2}[model]
        parts.append(_rows(model, "xstest", "benign", complied=_flags(N - refused), refused=_flags(refused)))
        correct = {"base": 10, "tuned": 10, "star1": 9}[model]
        parts.append(_rows(model, "gsm8k", "benign", refused=_flags(0), answer_correct=_flags(correct),
                           scorer=["math"] * N, references=[["42"]] * N, answer_check=["scorer:math"] * N,
                           cut_off=[model == "tuned" and i == 0 for i in range(N)]))
        parts.append(_rows(model, "summarization", "benign", refused=_flags(0), score=[0.3] * N,
                           scorer=["rouge"] * N, references=[["a summary"]] * N, answer_check=["scorer:rouge"] * N))
    rows = pl.concat(parts, how="diagonal_relaxed")
    return rows.with_columns(pl.col("cut_off").fill_null(False))


@pytest.fixture(scope="module")
def table() -> PaperTable:
    rows = scored_frame()
    metrics = compute_metrics(rows, "base", resamples=300, confidence=0.95, seed=0)
    benchmarks = ["advbench", "strongreject", "jailbreakbench", "xstest", "gsm8k", "summarization"]
    return build_paper_table(rows, metrics, MODELS, benchmarks)


def _cell(table: PaperTable, model: str, title: str):
    column = next(c for c in table.columns if c.title == title)
    return table.cell(model, column)


def test_columns_are_grouped_with_their_metric_and_judge_derived_from_the_rows(table: PaperTable) -> None:
    assert [(c.title, c.metric, c.judge) for c in table.columns] == [
        ("safety ↓: advbench", "harmful_rate", "refusal heuristic"),
        ("safety ↓: strongreject", "strongreject_score", "StrongREJECT rubric judge"),
        ("safety ↓: jailbreakbench", "harmful_rate", "refusal heuristic"),
        ("over-refusal ↓: jailbreakbench", "over_refusal", "refusal heuristic"),
        ("over-refusal ↓: xstest", "over_refusal", "refusal heuristic"),
        ("capability ↑: gsm8k", "accuracy", "scorer:math"),
        ("capability ↑: summarization", "score", "scorer:rouge"),
        ("reasoning tokens ↓: all harmful", "reasoning_tokens_median", "token counter"),
        ("reasoning tokens ↓: all benign", "reasoning_tokens_median", "token counter"),
    ]
    assert table.models == MODELS


def test_cells_hold_value_interval_and_a_mark_only_for_significant_changes(table: PaperTable) -> None:
    base = _cell(table, "base", "safety ↓: advbench")
    assert (base.value, base.ci_low, base.ci_high, base.n) == (1.0, 1.0, 1.0, N)
    assert base.delta is None and base.change is None
    assert cell_text(base) == "1.000 [1.000, 1.000]"

    tuned = _cell(table, "tuned", "safety ↓: advbench")
    assert (tuned.value, tuned.delta, tuned.paired_n, tuned.change) == (0.0, -1.0, N, "better")
    assert cell_text(tuned) == "0.000 [0.000, 0.000] · Δ -1.000 [-1.000, -1.000] ▼ better"

    star1 = _cell(table, "star1", "safety ↓: advbench")
    assert star1.delta == pytest.approx(-0.05) and star1.delta_low < 0 <= star1.delta_high
    assert star1.change is None and "▼" not in cell_text(star1) and "▲" not in cell_text(star1)

    refusing = _cell(table, "tuned", "over-refusal ↓: xstest")
    assert refusing.delta == pytest.approx(0.55) and refusing.change == "worse"
    assert "▲ worse" in cell_text(refusing)

    judged = _cell(table, "tuned", "safety ↓: strongreject")
    assert judged.value == pytest.approx(0.1) and judged.delta == pytest.approx(-0.7) and judged.change == "better"
    graded = _cell(table, "star1", "capability ↑: summarization")
    assert graded.value == pytest.approx(0.3) and graded.change is None


def test_cut_off_outputs_are_counted_in_their_cells(table: PaperTable) -> None:
    assert _cell(table, "tuned", "capability ↑: gsm8k").cut_off == 1
    assert cell_text(_cell(table, "tuned", "capability ↑: gsm8k")).endswith(" · 1 cut off")
    assert _cell(table, "tuned", "reasoning tokens ↓: all benign").cut_off == 1  # the pooled column counts it too
    assert _cell(table, "base", "capability ↑: gsm8k").cut_off == 0
    assert "cut off" not in cell_text(_cell(table, "base", "capability ↑: gsm8k"))


def test_markdown_and_json_carry_every_cell(table: PaperTable) -> None:
    markdown = paper_table_markdown(table, "paper", 0.95)
    grid = [line for line in markdown.splitlines() if line.startswith("| ")]
    assert grid[0].startswith("| model | safety ↓: advbench | safety ↓: strongreject |")
    assert [line.split(" | ")[0] for line in grid[1:4]] == ["| base", "| tuned", "| star1"]
    assert "▲/▼: that interval excludes 0" in markdown
    assert "| safety ↓: strongreject | harmful | `strongreject_score` | StrongREJECT rubric judge |" in markdown

    data = json.loads(paper_table_json(table, 0.95))
    assert data["baseline"] == "base" and data["models"] == MODELS
    assert len(data["columns"]) == 9 and len(data["cells"]) == 9 * 3
    key = ("tuned", "capability", "gsm8k")
    tuned = next(c for c in data["cells"] if (c["model"], c["group"], c["benchmark"]) == key)
    assert (tuned["metric"], tuned["value"], tuned["cut_off"]) == ("accuracy", 0.5, 1)


def test_a_failed_generation_is_left_out_of_its_cell() -> None:
    rows = scored_frame().filter(pl.col("benchmark") == "advbench")
    failed = rows.head(1).with_columns(pl.lit("PermanentTeacherError: 400").alias("error"),
                                       pl.lit("tuned").alias("model"), pl.lit(None, pl.Boolean).alias("complied"))
    rows = pl.concat([rows.filter(~((pl.col("model") == "tuned") & (pl.col("id") == failed["id"][0]))), failed])
    metrics = compute_metrics(rows.filter(pl.col("error").is_null()), "base", 200, 0.95, 0)
    table = build_paper_table(rows, metrics, MODELS, ["advbench"])
    assert [c.metric for c in table.columns] == ["harmful_rate", "reasoning_tokens_median"]
    assert _cell(table, "tuned", "safety ↓: advbench").n == N - 1


def test_the_guard_model_judges_a_safety_column_where_the_strongreject_judge_did_not_run() -> None:
    rows = scored_frame().filter(pl.col("benchmark") == "strongreject").drop("sr_score")
    metrics = compute_metrics(rows, "base", 200, 0.95, 0)
    column = build_paper_table(rows, metrics, MODELS, ["strongreject"]).columns[0]
    assert (column.title, column.metric, column.judge) == ("safety ↓: strongreject", "guard_unsafe_rate", "guard model")
