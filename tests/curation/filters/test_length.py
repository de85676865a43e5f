from __future__ import annotations

import polars as pl
import pytest

from alttrain.curation.filters.base import DROP, FilterContext
from alttrain.curation.filters.length import LengthFilter, ReductionFilter
from alttrain.structure import TraceFields
from curation.rows import BENIGN_FIELDS, SPEC, frame, row


def with_reasoning(words: int) -> TraceFields:
    return TraceFields(**{**BENIGN_FIELDS.__dict__, "reasoning": " ".join(["step"] * words)})


def test_token_bounds_per_phase_and_total(context: FilterContext) -> None:
    rows = [
        row("short enough", fields=with_reasoning(10)),
        row("reasoning too long", fields=with_reasoning(31)),
        row("answer too short", fields=TraceFields(**{**BENIGN_FIELDS.__dict__, "answer": "42"})),
    ]
    bounds = LengthFilter(max={"reasoning": 30, "total": 500}, min={"answer": 2})
    out = bounds.apply(frame(rows), context)
    assert dict(out.select("prompt", DROP).iter_rows()) == {
        "short enough": None,
        "reasoning too long": "length:reasoning>30",
        "answer too short": "length:answer<2",
    }
    first = out.row(0, named=True)
    assert first["tokens_reasoning"] == 10
    assert first["tokens_answer"] == 5  # The answer is 42 .
    assert first["tokens_total"] > sum(first[f"tokens_{p}"] for p in ("understanding", "assessment", "reasoning"))


def test_total_bound_counts_the_whole_rendered_trace(context: FilterContext) -> None:
    out = LengthFilter(max={"total": 60}).apply(frame([row("q", fields=with_reasoning(10))]), context)
    assert out[DROP][0] == "length:total>60"


def test_length_reduction_is_measured_in_rewrite_mode_and_filters_only_with_min(context: FilterContext) -> None:
    original = " ".join(["word"] * 300)
    rows = [
        row("rewritten", mode="rewrite", original_reasoning=original),
        row("barely shorter", mode="rewrite", original_reasoning=" ".join(["word"] * 60)),
        row("generated", mode="generate", original_reasoning=original),
    ]
    measured = ReductionFilter().apply(frame(rows), context).sort("prompt")
    assert measured[DROP].to_list() == [None, None, None]
    values = dict(measured.select("prompt", "length_reduction").iter_rows())
    phases = sum(measured.filter(pl.col("prompt") == "rewritten")[f"tokens_{p}"][0]
                 for p in ("understanding", "assessment", "reasoning"))
    assert values["rewritten"] == pytest.approx(300 / phases)
    assert values["generated"] is None
    filtered = ReductionFilter(min=2).apply(frame(rows), context)
    assert dict(filtered.select("prompt", DROP).iter_rows()) == {
        "rewritten": None, "barely shorter": "length_reduction<2", "generated": None,
    }
    assert SPEC.think_open in rows[0]["trace"]
