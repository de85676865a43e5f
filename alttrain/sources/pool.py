"""Build the prompt pool: sample each configured source, merge exact duplicates, count everything."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from alttrain.prompt_sets.base import TraceCounts
from alttrain.prompt_sets.builtin import AdvBenchSource, DoNotAnswerSource, HarmBenchSource, ReasoningGymSource
from alttrain.records import normalise_text
from alttrain.refusal import refusal_heuristic
from alttrain.sources.files import FileSource
from alttrain.sources.hub import HubSource

SourceConfig = Annotated[
    HarmBenchSource | DoNotAnswerSource | AdvBenchSource | ReasoningGymSource | FileSource | HubSource,
    Field(discriminator="kind"),
]


class PromptsConfig(BaseModel):
    """The ``prompts`` stage: which sources, how many of each, and the sampling seed."""

    model_config = ConfigDict(extra="forbid")
    seed: int = 0
    sources: list[SourceConfig] = Field(min_length=1)

    @property
    def generated_problems(self) -> list[tuple[str, int]]:
        """The ``(task, seed)`` of every reasoning-gym source: problems evaluation must not generate again."""
        return [(source.task, source.seed) for source in self.sources if isinstance(source, ReasoningGymSource)]


@dataclass(frozen=True)
class SourceCount:
    """One line of the pool summary: what a source gave and what was kept of it.

    ``loaded`` is the rows read. ``labels_found`` holds ``(value found, label given, rows read)``, the
    value None where one label is fixed for the whole source; ``traces`` says how a ``response`` column
    split (None without one). Both count rows read, before sampling; a file source samples ``n`` while it
    reads (only the sample is kept in memory), so for it they count the rows sampled.
    """

    source: str
    license: str
    loaded: int
    sampled: int
    duplicates_merged: int
    kept: int
    harmful: int
    benign: int
    labels_found: tuple[tuple[str | None, str, int], ...] = ()
    traces: TraceCounts | None = None
    commit: str | None = None  # the Hub commit read (a Hub dataset)
    benign_answered: int = 0  # rows read labelled benign that carry an original answer
    benign_refusing: int = 0  # of those, answers that read as refusals (alttrain.refusal)

    def label_warning(self) -> str | None:
        """A warning when the labels contradict the source's own answers: most benign rows' answers refuse.

        A harmful-prompt source whose label column maps to benign (a ``0`` that meant "jailbreak") shows so.
        """
        if self.benign_answered < LABEL_CHECK_MIN_ROWS or self.benign_refusing * 2 <= self.benign_answered:
            return None
        return (
            f"source {self.source}: {self.benign_refusing} of {self.benign_answered} rows labelled benign have an "
            "original answer that refuses; check its label mapping (label, label_values) before synthesis"
        )


LABEL_CHECK_MIN_ROWS = 5  # fewer benign rows with answers than this are too few to judge the labels by


def _benign_answers(frame: pl.DataFrame) -> tuple[int, int]:
    """(rows labelled benign with an original answer, of them refusals)."""
    answered = frame.filter((pl.col("label") == "benign") & pl.col("original_answer").is_not_null())
    return answered.height, int(answered.select(refusal_heuristic("original_answer").sum()).item() or 0)


def build_prompt_pool(config: PromptsConfig) -> tuple[pl.DataFrame, list[SourceCount]]:
    """Load, sample and merge every source; return the pool and a per-source summary.

    Sampling is without replacement and deterministic under ``config.seed``. A prompt that appears
    more than once (same normalised text, in one source or across sources) is kept once, from the
    first source that lists it; the later copies are counted as merged.
    """
    sampled: list[pl.DataFrame] = []
    loaded_counts: list[int] = []
    reports = []
    answers = []
    for index, source in enumerate(config.sources):
        frame, report = source.load_with_report(seed=config.seed + index)
        reports.append(report)
        answers.append(_benign_answers(frame))
        loaded_counts.append(report.rows)
        if source.n is not None and source.n < frame.height:
            frame = frame.sample(n=source.n, seed=config.seed + index, shuffle=True)
        sampled.append(frame.with_columns(pl.lit(index).alias("_source_index")))

    combined = pl.concat(sampled).with_row_index("_order")
    combined = combined.with_columns(
        pl.col("prompt").map_elements(normalise_text, return_dtype=pl.String).alias("_key")
    )
    pool = combined.unique(subset="_key", keep="first", maintain_order=True)

    summary = []
    for index, source in enumerate(config.sources):
        before = combined.filter(pl.col("_source_index") == index)
        after = pool.filter(pl.col("_source_index") == index)
        summary.append(
            SourceCount(
                source=source.name,
                license=before["license"][0] if before.height else "",
                loaded=loaded_counts[index],
                sampled=before.height,
                duplicates_merged=before.height - after.height,
                kept=after.height,
                harmful=after.filter(pl.col("label") == "harmful").height,
                benign=after.filter(pl.col("label") == "benign").height,
                labels_found=reports[index].labels,
                traces=reports[index].traces,
                commit=source.read_commit(),
                benign_answered=answers[index][0],
                benign_refusing=answers[index][1],
            )
        )
    return pool.drop("_order", "_key", "_source_index"), summary
