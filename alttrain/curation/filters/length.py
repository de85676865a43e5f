"""Token-length bounds per phase and in total, and the trace-length reduction of rewrite mode.

Tokens are counted by the configured counter (:mod:`alttrain.curation.tokens`). ``length_reduction``
is the original reasoning's tokens over the tokens of the three new phases (understanding +
assessment + reasoning), measured on rows synthesized in ``rewrite`` mode that carry
``original_reasoning``; the paper reports 2-10x. It is always measured by the ``reduction`` filter,
which drops rows only when ``min`` is set.
"""

from __future__ import annotations

from typing import Literal

import polars as pl
from pydantic import Field, PositiveFloat

from alttrain.curation.filters.base import Filter, FilterContext, first_reason
from alttrain.curation.tokens import with_token_counts
from alttrain.records import with_columns_on_all_cores

Part = Literal["understanding", "assessment", "reasoning", "answer", "total"]
PARTS: tuple[Part, ...] = ("understanding", "assessment", "reasoning", "answer", "total")
THINK_PHASES = ("understanding", "assessment", "reasoning")


class LengthFilter(Filter):
    """Drop rows outside the token bounds: ``length:<part>><max>`` or ``length:<part><<min>``."""

    kind: Literal["length"] = "length"
    max: dict[Part, int] = Field(default_factory=lambda: {"reasoning": 2048, "total": 4096})
    min: dict[Part, int] = Field(default_factory=dict)

    def apply(self, frame: pl.DataFrame, context: FilterContext) -> pl.DataFrame:
        """Count tokens (unless already counted) and check each bound in part order."""
        frame = with_token_counts(frame, context.counter)
        rules: list[tuple[pl.Expr, str]] = []
        for part in PARTS:
            tokens = pl.col(f"tokens_{part}")
            if part in self.max:
                rules.append((tokens > self.max[part], f"length:{part}>{self.max[part]}"))
            if part in self.min:
                rules.append((tokens < self.min[part], f"length:{part}<{self.min[part]}"))
        return frame.with_columns(first_reason(*rules))


def with_length_reduction(frame: pl.DataFrame, context: FilterContext) -> pl.DataFrame:
    """Add ``original_tokens`` and ``length_reduction`` (null outside rewrite mode)."""
    frame = with_token_counts(frame, context.counter)
    rewritten = (pl.col("mode") == "rewrite") & pl.col("original_reasoning").is_not_null()
    original = context.counter.count("original_reasoning")
    frame = with_columns_on_all_cores(frame, pl.when(rewritten).then(original).otherwise(None).alias("original_tokens"))
    phases = pl.sum_horizontal(pl.col(f"tokens_{p}") for p in THINK_PHASES)
    reduction = pl.col("original_tokens").cast(pl.Float64) / pl.when(phases > 0).then(phases).otherwise(None)
    return frame.with_columns(reduction.alias("length_reduction"))


class ReductionFilter(Filter):
    """Measure the rewrite's length reduction; with ``min`` set, drop ``length_reduction<<min>``."""

    kind: Literal["reduction"] = "reduction"
    min: PositiveFloat | None = None

    def apply(self, frame: pl.DataFrame, context: FilterContext) -> pl.DataFrame:
        """Measure; drop only rows with a reduction below ``min`` (rows without one are kept)."""
        frame = with_length_reduction(frame, context)
        if self.min is None:
            return frame.with_columns(first_reason())
        return frame.with_columns(
            first_reason((pl.col("length_reduction") < self.min, f"length_reduction<{self.min:g}"))
        )
