"""Run each item's named scorer over scored rows (``answer_correct``, ``score``, ``extracted_answer``)."""

from __future__ import annotations

import polars as pl

from alttrain.errors import BenchmarkError
from alttrain.evaluation.scorers.registry import SCORERS


def apply_scorers(rows: pl.DataFrame) -> pl.DataFrame:
    """Score the rows whose ``scorer`` is set; the others keep their ``answer_correct`` (null score).

    Needs ``answer``, ``scorer``, ``references``, ``answer_correct`` and ``answer_check`` (the generic
    check's result, :func:`alttrain.measures.check_answers`); a scored row's ``answer_check`` becomes
    ``scorer:<name>``.

    Raises:
        BenchmarkError: for a scorer name that is not registered, or a scored item without references.

    """
    correct = rows["answer_correct"].to_list()
    checks = rows["answer_check"].to_list()
    scores: list[float | None] = [None] * rows.height
    extracted: list[str | None] = [None] * rows.height
    for index, (name, answer, references) in enumerate(
        zip(rows["scorer"], rows["answer"], rows["references"].to_list(), strict=True)
    ):
        if name is None:
            continue
        scorer = SCORERS.get(name)
        if scorer is None:
            raise BenchmarkError(f"unknown scorer {name!r}; registered: {', '.join(sorted(SCORERS)) or 'none'}")
        if not references:
            raise BenchmarkError(f"an item scored by {name!r} has no references")
        result = scorer.score(answer or "", references)
        correct[index], scores[index], extracted[index] = result.correct, result.score, result.extracted
        checks[index] = f"scorer:{name}"
    return rows.with_columns(
        pl.Series("answer_correct", correct, dtype=pl.Boolean),
        pl.Series("answer_check", checks, dtype=pl.String),
        pl.Series("score", scores, dtype=pl.Float64),
        pl.Series("extracted_answer", extracted, dtype=pl.String),
    )
