"""The distribution gap in the datasheet: the base model's mean per-token NLL of this dataset's traces and variants'.

This run's final dataset is named after its synthesis mode (``teacher`` for rewrite/generate/auto, else
``self`` or ``restyle``); each of ``datasheet.distribution_gap.variants`` is read from its file (rows with
``prompt`` and ``trace``; ``ok`` rows only where the file has a ``status``). Lower means closer to what the
model writes itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from alttrain.datasheets.config import DistributionGapConfig
from alttrain.errors import DatasheetError, MissingInputError
from alttrain.models.nll import NllScorer

OWN_MODES = ("self", "restyle")


@dataclass(frozen=True)
class GapRow:
    """One dataset's NLL under the base model."""

    variant: str
    rows: int
    tokens: int
    mean_nll: float
    this_run: bool


def variant_name(mode: str) -> str:
    """The variant a run's synthesis mode makes: ``self``, ``restyle``, else ``teacher``."""
    return mode if mode in OWN_MODES else "teacher"


def read_variant(path: Path) -> pl.DataFrame:
    """The (prompt, trace) rows of a variant's file.

    Raises:
        MissingInputError: the file is not there.
        DatasheetError: it is not parquet, or lacks ``prompt`` or ``trace``.

    """
    if not path.exists():
        raise MissingInputError(f"{path}: distribution_gap variant not found")
    try:
        frame = pl.read_parquet(path)
    except (pl.exceptions.PolarsError, OSError) as error:
        raise DatasheetError(f"{path}: not a readable parquet file ({type(error).__name__})") from None
    if not {"prompt", "trace"} <= set(frame.columns):
        raise DatasheetError(f"{path}: a distribution_gap variant needs 'prompt' and 'trace' columns")
    if "status" in frame.columns:
        frame = frame.filter(pl.col("status") == "ok")
    return frame.select("prompt", "trace").drop_nulls()


def measure_gap(config: DistributionGapConfig, final: pl.DataFrame, mode: str) -> list[GapRow]:
    """Measure the run's final dataset first, then each variant in the order configured."""
    datasets = [(variant_name(mode), final.select("prompt", "trace"), True)]
    datasets += [(name, read_variant(path), False) for name, path in config.variants.items()]
    scorer = NllScorer(config.model, cache_dir=config.model_cache_dir, chat_template=config.chat_template,
                       max_length=config.max_length)  # fmt: skip
    rows = []
    for name, frame, this_run in datasets:
        pairs = list(zip(frame["prompt"].to_list(), frame["trace"].to_list(), strict=True))
        nll = scorer.score(pairs, batch_size=config.batch_size)
        rows.append(GapRow(name, nll.rows, nll.tokens, nll.mean, this_run))
    return rows
