"""Answer correctness: drop benign answers that do not match their reference.

How an answer is checked is :func:`alttrain.measures.check_answers`.
"""

from __future__ import annotations

from typing import Literal

import polars as pl
from pydantic import Field

from alttrain.curation.filters.base import Filter, FilterContext, first_reason
from alttrain.measures import check_answers


class AnswerFilter(Filter):
    """Drop benign answers that do not match the reference: ``answer:incorrect``."""

    kind: Literal["answer"] = "answer"
    min_score: float = Field(default=1.0, ge=0.0, le=1.0)  # reasoning-gym verifier score that counts correct

    def apply(self, frame: pl.DataFrame, context: FilterContext) -> pl.DataFrame:
        """Verifier for reasoning-gym rows, numeric/text match otherwise."""
        frame = check_answers(frame, self.min_score)
        return frame.with_columns(first_reason((pl.col("answer_correct").fill_null(True).not_(), "answer:incorrect")))
