"""Config of the ``curate`` stage: the ordered filters, the tokenizer, dedup, scoring and selection."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from alttrain.curation.filters.answer import AnswerFilter
from alttrain.curation.filters.consistency import RefusalFilter, VerdictFilter
from alttrain.curation.filters.language import LanguageFilter
from alttrain.curation.filters.length import LengthFilter, ReductionFilter
from alttrain.curation.filters.mode import ModeFilter
from alttrain.curation.filters.source import SourceScoreFilter
from alttrain.curation.filters.structure import StructureFilter
from alttrain.curation.judge import JudgeFilter
from alttrain.curation.score import HeuristicScoreConfig
from alttrain.curation.selection import SelectionConfig
from alttrain.measures import TokenizerConfig
from alttrain.neardup import DedupConfig

FilterConfig = Annotated[
    StructureFilter
    | VerdictFilter
    | RefusalFilter
    | ModeFilter
    | AnswerFilter
    | LengthFilter
    | ReductionFilter
    | LanguageFilter
    | SourceScoreFilter
    | JudgeFilter,
    Field(discriminator="kind"),
]


def default_filters() -> list[FilterConfig]:
    """Cheap vectorised filters first, the language detector last; no judge (it is opt-in)."""
    return [
        StructureFilter(),
        VerdictFilter(),
        RefusalFilter(),
        ModeFilter(),
        AnswerFilter(),
        LengthFilter(),
        ReductionFilter(),
        LanguageFilter(),
    ]


class CurationConfig(BaseModel):
    """The ``curation`` section of a run config.

    ``filters`` run in the order listed, each on the rows every earlier one kept; a row's
    ``filter_reason`` is the first that drops it. Add ``- kind: judge`` to score with the teacher
    (put ``refusal`` after it to use the judge's refusal decision).
    """

    model_config = ConfigDict(extra="forbid")

    tokenizer: TokenizerConfig = Field(default_factory=TokenizerConfig)
    filters: list[FilterConfig] = Field(default_factory=default_filters)
    dedup: DedupConfig = Field(default_factory=DedupConfig)
    score: HeuristicScoreConfig = Field(default_factory=HeuristicScoreConfig)
    selection: SelectionConfig = Field(default_factory=SelectionConfig)

    @field_validator("filters")
    @classmethod
    def _each_kind_once(cls, filters: list[FilterConfig]) -> list[FilterConfig]:
        kinds = [f.kind for f in filters]
        repeated = sorted({k for k in kinds if kinds.count(k) > 1})
        if repeated:
            raise ValueError(f"each filter kind may appear once; repeated: {repeated}")
        return filters
