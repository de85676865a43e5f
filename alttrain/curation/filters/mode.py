"""The policy's response mode: the answer must be the kind of answer its row's ``policy_mode`` asks for.

Synthesis records each row's safety-policy category and mode (:mod:`alttrain.policy`). A ``safe_complete``
row whose answer is a bare refusal (:func:`alttrain.refusal.looks_like_bare_refusal`: a refusal once
sympathy is set aside) is dropped as ``mode:safe_complete_refused``; a ``refuse`` row whose answer does
not refuse as ``mode:refuse_complied``; a ``comply`` row that refuses as ``mode:comply_refused``. Where a
``judge_refused`` column holds a judge's decision, it decides refusals. Rows without a mode (files written
before the policy) are not checked here; the ``refusal`` filter still checks them against their label.
"""

from __future__ import annotations

from typing import Literal

import polars as pl

from alttrain.curation.filters.base import Filter, FilterContext, first_reason
from alttrain.refusal import bare_refusal_heuristic, refusal_heuristic


class ModeFilter(Filter):
    """Drop answers that do not follow their row's policy mode, naming the mode and what went wrong."""

    kind: Literal["mode"] = "mode"

    def apply(self, frame: pl.DataFrame, context: FilterContext) -> pl.DataFrame:
        """Compare each answer with its ``policy_mode``."""
        refused, bare = refusal_heuristic(), bare_refusal_heuristic()
        if "judge_refused" in frame.columns:
            refused, bare = pl.coalesce(pl.col("judge_refused"), refused), pl.coalesce(pl.col("judge_refused"), bare)
        mode = pl.col("policy_mode")
        answered = pl.col("answer").fill_null("").str.len_chars() > 0
        return frame.with_columns(
            first_reason(
                ((mode == "safe_complete") & bare.fill_null(False), "mode:safe_complete_refused"),
                ((mode == "refuse") & ~refused.fill_null(False) & answered, "mode:refuse_complied"),
                ((mode == "comply") & refused.fill_null(False), "mode:comply_refused"),
            )
        )
