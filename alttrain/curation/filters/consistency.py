"""Label consistency: the verdict names the label, and the answer refuses iff the prompt is harmful.

The reasons are the shared validator's violation kinds (``verdict_mismatch``, ``refusal_when_benign``,
``no_refusal_when_harmful``). The refusal check is :func:`alttrain.refusal.looks_like_refusal` as one
vectorised check over the answer's opening (each refusal structure has its own window);
where a ``judge_refused`` column holds a judge's decision, that decision wins. A harmful row whose policy
mode is not ``refuse`` (a ``safe_complete`` answer helps safely instead) is not required to refuse here;
the ``mode`` filter checks it against its mode.
"""

from __future__ import annotations

from typing import Literal

import polars as pl

from alttrain.curation.filters.base import Filter, FilterContext, first_reason
from alttrain.refusal import refusal_heuristic
from alttrain.structure import ViolationKind


class VerdictFilter(Filter):
    """Drop rows whose verdict is not their label: ``verdict_mismatch``."""

    kind: Literal["verdict"] = "verdict"

    def apply(self, frame: pl.DataFrame, context: FilterContext) -> pl.DataFrame:
        """Compare the verdict column with the label."""
        mismatch = pl.col("verdict").ne_missing(pl.col("label"))
        return frame.with_columns(first_reason((mismatch, ViolationKind.VERDICT_MISMATCH.value)))


class RefusalFilter(Filter):
    """Drop benign rows that refuse and harmful rows that do not; records the decision as ``refused``."""

    kind: Literal["refusal"] = "refusal"

    def apply(self, frame: pl.DataFrame, context: FilterContext) -> pl.DataFrame:
        """Judge's ``judge_refused`` where present, else the heuristic."""
        refused = refusal_heuristic()
        if "judge_refused" in frame.columns:
            refused = pl.coalesce(pl.col("judge_refused"), refused)
        frame = frame.with_columns(refused.fill_null(False).alias("refused"))
        answered = pl.col("answer").fill_null("").str.len_chars() > 0
        must_refuse = pl.col("policy_mode").fill_null("refuse") == "refuse"
        return frame.with_columns(
            first_reason(
                ((pl.col("label") == "benign") & pl.col("refused"), ViolationKind.REFUSAL_WHEN_BENIGN.value),
                (
                    (pl.col("label") == "harmful") & must_refuse & ~pl.col("refused") & answered,
                    ViolationKind.NO_REFUSAL_WHEN_HARMFUL.value,
                ),
            )
        )
