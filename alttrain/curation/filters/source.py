"""Filters on what the source said about a row: its own quality score (``source_score``)."""

from __future__ import annotations

from typing import Literal

import polars as pl

from alttrain.curation.filters.base import Filter, FilterContext, first_reason


class SourceScoreFilter(Filter):
    """Drop rows whose source scored them below ``min`` (``source_score<<min>``); rows without a score stay.

    The score comes from the source (``columns: {source_score: ...}``; the ``star1`` preset maps STAR-1's
    three judge scores, the lowest of them).
    """

    kind: Literal["source_score"] = "source_score"
    min: float

    def apply(self, frame: pl.DataFrame, context: FilterContext) -> pl.DataFrame:
        """Compare each row's ``source_score`` with ``min``."""
        return frame.with_columns(first_reason((pl.col("source_score") < self.min, f"source_score<{self.min:g}")))
