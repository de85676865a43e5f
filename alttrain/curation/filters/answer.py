"""Answer correctness: a benign answer must match its ``reference_answer`` where one exists.

Rows from a ``reasoning_gym/<task>`` source are scored by that task's own verifier
(``reasoning_gym.get_score_answer_fn(task)``, called with ``{"question", "answer", "metadata": {}}``)
and count as correct at ``min_score`` or more (a call costs ~1-3 us, so every such row is scored).
Every other row, and a reasoning-gym row whose task is unknown or whose verifier raises, is checked
in polars: a numeric reference must equal the last number in the answer (thousands commas ignored);
any other reference must occur in the answer (case-folded, whitespace collapsed). Harmful rows and
rows without a reference are not checked (``answer_correct`` stays null).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Literal

import polars as pl
from pydantic import Field

from alttrain.curation.filters.base import Filter, FilterContext, first_reason
from alttrain.records import with_columns_on_all_cores

REASONING_GYM_PREFIX = "reasoning_gym/"
NUMBER = r"-?\d+(?:\.\d+)?"


@cache
def _verifier(task: str) -> Callable[[str | None, dict], float] | None:
    """The task's score function, or None when reasoning-gym does not know the task."""
    import reasoning_gym

    try:
        return reasoning_gym.get_score_answer_fn(task)
    except ValueError:
        return None


def _gym_scores(rows: pl.DataFrame) -> pl.Series:
    """Score (source, prompt, answer, reference) rows with their task's verifier; null where it cannot."""
    scores: list[float | None] = []
    for source, prompt, answer, reference in rows.iter_rows():
        verify = _verifier(source.removeprefix(REASONING_GYM_PREFIX))
        try:
            entry = {"question": prompt, "answer": reference, "metadata": {}}
            scores.append(float(verify(answer, entry)) if verify else None)
        except Exception:  # noqa: BLE001 - a verifier that cannot score falls back to the generic check
            scores.append(None)
    return pl.Series("_gym_score", scores, dtype=pl.Float64)


def _generic_correct() -> tuple[pl.Expr, pl.Expr]:
    """(correct, method) by the numeric-or-text rule in polars."""
    reference = pl.col("reference_answer").str.strip_chars().str.replace_all(",", "", literal=True)
    numeric_reference = reference.cast(pl.Float64, strict=False)
    last_number = (
        pl.col("answer").str.replace_all(r"(\d),(\d)", "$1$2").str.extract_all(NUMBER).list.last()
        .cast(pl.Float64, strict=False)
    )

    def folded(expr: pl.Expr) -> pl.Expr:  # whitespace runs (not lone spaces, most of them) become one space
        return expr.str.to_lowercase().str.replace_all(r"\s{2,}|[\s&&[^ ]]", " ").str.strip_chars()

    text_match = folded(pl.col("answer")).str.contains(folded(pl.col("reference_answer")), literal=True)
    is_numeric = numeric_reference.is_not_null()
    correct = pl.when(is_numeric).then(last_number.eq_missing(numeric_reference)).otherwise(text_match)
    return correct, pl.when(is_numeric).then(pl.lit("numeric")).otherwise(pl.lit("text"))


class AnswerFilter(Filter):
    """Drop benign answers that do not match the reference: ``answer:incorrect``."""

    kind: Literal["answer"] = "answer"
    min_score: float = Field(default=1.0, ge=0.0, le=1.0)  # reasoning-gym verifier score that counts correct

    def apply(self, frame: pl.DataFrame, context: FilterContext) -> pl.DataFrame:
        """Verifier for reasoning-gym rows, numeric/text match otherwise."""
        checked = (pl.col("label") == "benign") & pl.col("reference_answer").is_not_null()
        gym = checked & pl.col("source").str.starts_with(REASONING_GYM_PREFIX)
        positions = frame.select(gym.fill_null(False).arg_true()).to_series()
        gym_rows = frame.select("source", "prompt", "answer", "reference_answer")[positions]
        unscored = pl.repeat(None, frame.height, dtype=pl.Float64, eager=True).alias("_gym_score")
        frame = frame.with_columns(unscored.scatter(positions, _gym_scores(gym_rows)))
        generic, method = _generic_correct()
        by_gym = pl.col("_gym_score").is_not_null()
        frame = with_columns_on_all_cores(
            frame,
            pl.when(~checked).then(None)
            .when(by_gym).then(pl.col("_gym_score") >= self.min_score)
            .otherwise(generic.fill_null(False)).alias("answer_correct"),
            pl.when(~checked).then(None)
            .when(by_gym).then(pl.lit("reasoning_gym:") + pl.col("source").str.strip_prefix(REASONING_GYM_PREFIX))
            .otherwise(method).alias("answer_check"),
        ).drop("_gym_score")
        return frame.with_columns(first_reason((pl.col("answer_correct").fill_null(True).not_(), "answer:incorrect")))
