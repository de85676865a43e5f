from __future__ import annotations

from alttrain.curation.config import CurationConfig
from alttrain.curation.filters.base import DROP, FilterContext
from alttrain.curation.filters.source import SourceScoreFilter
from curation.rows import frame, row


def test_rows_the_source_scored_low_are_dropped_and_unscored_rows_stay(context: FilterContext) -> None:
    rows = [row("high", source_score=9.0), row("low", source_score=6.5), row("unscored", source_score=None)]
    out = SourceScoreFilter(min=8).apply(frame(rows), context)
    assert dict(out.select("prompt", DROP).iter_rows()) == {"high": None, "low": "source_score<8", "unscored": None}


def test_the_filter_is_configured_by_kind() -> None:
    config = CurationConfig.model_validate({"filters": [{"kind": "structure"}, {"kind": "source_score", "min": 9}]})
    assert config.filters[1] == SourceScoreFilter(min=9)
