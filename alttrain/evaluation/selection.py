"""The seeded selection of every benchmark, written next to the report (``RUN/eval/selection.json``).

A benchmark's subset is fixed by its config (``n``, ``seed``, its data and revision) and by the training
set it is held out from; the file lists, per benchmark, the selected item ids in the order they were
evaluated, with that config, the loaded count, the Hub commit read and the license, so anyone can rerun
exactly the same subset (or check that a rerun selected it).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import polars as pl

from alttrain.evaluation.benchmarks import Benchmark


@dataclass(frozen=True)
class Selection:
    """One benchmark's selected items and what selected them.

    Attributes:
        benchmark: the benchmark's name (as in every row and table).
        config: the benchmark's config as given (kind, n, seed, dataset, revision, ...).
        n: the subset size asked for (None: every held-out item).
        seed: the shuffle seed.
        loaded: items the loader read (before duplicates and training overlaps were taken out).
        commit: the Hub commit read (None: offline data, or a local folder outside a Hub snapshot).
        licenses: the licenses of the selected items.
        ids: the selected item ids, in evaluation order.

    """

    benchmark: str
    config: dict[str, Any]
    n: int | None
    seed: int
    loaded: int
    commit: str | None
    licenses: list[str]
    ids: list[str]


def selection_of(benchmark: Benchmark, loaded: int, subset: pl.DataFrame) -> Selection:
    """The selection record of ``benchmark`` whose loader read ``loaded`` items and selected ``subset``."""
    return Selection(
        benchmark=benchmark.name, config=benchmark.model_dump(mode="json"), n=benchmark.n, seed=benchmark.seed,
        loaded=loaded, commit=benchmark.read_commit(),
        licenses=sorted(subset["license"].drop_nulls().unique().to_list()), ids=subset["id"].to_list(),
    )


def write_selections(path: Path, selections: list[Selection]) -> None:
    """Write every benchmark's selection as one JSON document at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"benchmarks": [asdict(selection) for selection in selections]}
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
