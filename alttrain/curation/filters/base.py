"""The filter contract (after datatrove's): a filter takes a frame and says keep or drop, with a reason.

A filter is a pydantic model (its settings are its config entry, picked by ``kind``) whose
:meth:`Filter.apply` returns the frame with a :data:`DROP` column (null keeps the row, a string is the
reason it is dropped) plus any metric columns it measured. The pipeline runs the filters in their
configured order, each on the rows that every earlier filter kept, so a row's ``filter_reason`` is the
first filter that failed it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
from pydantic import BaseModel, ConfigDict

from alttrain.llm.config import TeacherConfig
from alttrain.measures import TokenCounter
from alttrain.structure import StructureSpec

DROP = "drop_reason"


@dataclass(frozen=True)
class FilterContext:
    """What filters share: the structure spec, the token counter and, for the judge, teacher and cache."""

    spec: StructureSpec
    counter: TokenCounter
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    cache_path: Path | None = None


class Filter(BaseModel, ABC):
    """One keep/drop rule; its ``kind`` names it in the config, in reasons and in the funnel."""

    model_config = ConfigDict(extra="forbid")

    @property
    def name(self) -> str:
        """The filter's kind."""
        return self.kind  # type: ignore[attr-defined]

    @abstractmethod
    def apply(self, frame: pl.DataFrame, context: FilterContext) -> pl.DataFrame:
        """Return ``frame`` with a :data:`DROP` reason column (null: keep) and the filter's metric columns."""


def first_reason(*rules: tuple[pl.Expr, pl.Expr | str]) -> pl.Expr:
    """The reason of the first rule whose condition holds (null when none does), as the DROP column."""
    chain = None
    for condition, reason in rules:
        value = pl.lit(reason) if isinstance(reason, str) else reason
        chain = pl.when(condition).then(value) if chain is None else chain.when(condition).then(value)
    if chain is None:
        return pl.lit(None, dtype=pl.String).alias(DROP)
    return chain.otherwise(pl.lit(None, dtype=pl.String)).cast(pl.String).alias(DROP)
