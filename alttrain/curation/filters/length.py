"""Token-length bounds per phase and in total, and the trace-length reduction of rewrite mode.

Tokens and the reduction are measured as :mod:`alttrain.measures` defines them. The reduction is always
measured by the ``reduction`` filter, which drops rows only when ``min`` is set.
"""

from __future__ import annotations

from typing import Literal

import polars as pl
from pydantic import Field, PositiveFloat

from alttrain.curation.filters.base import Filter, FilterContext, first_reason
from alttrain.measures import with_length_reduction, with_token_counts

Part = Literal["understanding", "assessment", "reasoning", "answer", "total"]
PARTS: tuple[Part, ...] = ("understanding", "assessment", "reasoning", "answer", "total")


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


class ReductionFilter(Filter):
    """Measure the rewrite's length reduction; with ``min`` set, drop ``length_reduction<<min>``."""

    kind: Literal["reduction"] = "reduction"
    min: PositiveFloat | None = None

    def apply(self, frame: pl.DataFrame, context: FilterContext) -> pl.DataFrame:
        """Measure; drop only rows with a reduction below ``min`` (rows without one are kept)."""
        frame = with_length_reduction(frame, context.counter)
        if self.min is None:
            return frame.with_columns(first_reason())
        return frame.with_columns(
            first_reason((pl.col("length_reduction") < self.min, f"length_reduction<{self.min:g}"))
        )
