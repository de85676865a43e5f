r"""Token counts of trace phases: a fast regex count by default, or a Hugging Face tokenizer from disk.

The default tokenizer counts words and punctuation marks (``\w+|[^\w\s]``) with one vectorised
polars expression; on English prose it runs close to a BPE token count (a BPE tokenizer splits rare
words, the regex does not) and costs nothing to load. ``kind: hf`` loads a tokenizer saved on disk
(``tokenizer.json`` etc.; nothing is downloaded) and counts its ids without special tokens.

Counters hand out expressions, not counted series, so that the counts of every column run in one
pass on every core (:func:`alttrain.records.with_columns_on_all_cores`); a ``Series`` string method
runs on one thread.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal, Protocol

import polars as pl
from pydantic import BaseModel, ConfigDict, PositiveInt, model_validator

from alttrain.curation.errors import CurationError
from alttrain.records import with_columns_on_all_cores

DEFAULT_TOKEN_PATTERN = r"\w+|[^\w\s]"
PHASES: tuple[str, ...] = ("understanding", "assessment", "reasoning", "answer")
TOKEN_COLUMNS: tuple[str, ...] = tuple(f"tokens_{phase}" for phase in PHASES) + ("tokens_total",)


class TokenizerConfig(BaseModel):
    """How tokens are counted: ``regex`` (default, vectorised) or ``hf`` (a local tokenizer directory)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["regex", "hf"] = "regex"
    pattern: str = DEFAULT_TOKEN_PATTERN
    path: Path | None = None
    batch_size: PositiveInt = 4096

    @model_validator(mode="after")
    def _path_for_hf(self) -> TokenizerConfig:
        if self.kind == "hf" and self.path is None:
            raise ValueError("tokenizer.kind 'hf' needs tokenizer.path (a local tokenizer directory)")
        return self


class TokenCounter(Protocol):
    """Counts tokens of every string in a column (null stays null)."""

    def count(self, column: str) -> pl.Expr:
        """An Int64 expression: the token count of each text in ``column``."""
        ...


class RegexCounter:
    """Counts regex matches, vectorised in polars."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern

    def count(self, column: str) -> pl.Expr:
        """Number of matches of the pattern in each text."""
        return pl.col(column).str.count_matches(self.pattern).cast(pl.Int64)


class HFCounter:
    """Counts ids of a Hugging Face tokenizer loaded from a local directory, in batches."""

    def __init__(self, path: Path, batch_size: int) -> None:
        from transformers import AutoTokenizer

        if not path.exists():
            raise CurationError(f"tokenizer path {path} not found (curation.tokenizer.path)")
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        except (OSError, ValueError) as error:
            raise CurationError(f"tokenizer path {path}: cannot load a tokenizer ({error})") from error
        self.batch_size = batch_size

    def count(self, column: str) -> pl.Expr:
        """Length of each text's ids without special tokens (the tokenizer runs in batches, in Python)."""
        return pl.col(column).map_batches(self._count, return_dtype=pl.Int64)

    def _count(self, texts: pl.Series) -> pl.Series:
        values = texts.to_list()
        present = [value for value in values if value is not None]
        lengths: list[int] = []
        for start in range(0, len(present), self.batch_size):
            batch = present[start : start + self.batch_size]
            ids = self.tokenizer(batch, add_special_tokens=False, return_attention_mask=False)["input_ids"]
            lengths += [len(row) for row in ids]
        found = iter(lengths)
        return pl.Series(texts.name, [None if v is None else next(found) for v in values], dtype=pl.Int64)


@cache
def make_counter(config: TokenizerConfig) -> TokenCounter:
    """The counter for a config (loaded once per process)."""
    if config.kind == "hf":
        assert config.path is not None  # checked by the config
        return HFCounter(config.path, config.batch_size)
    return RegexCounter(config.pattern)


def with_token_counts(frame: pl.DataFrame, counter: TokenCounter) -> pl.DataFrame:
    """Add ``tokens_<phase>`` and ``tokens_total`` (the whole trace) unless every row already has them."""
    if all(c in frame.columns for c in TOKEN_COLUMNS) and not frame.select(
        pl.any_horizontal(pl.col(TOKEN_COLUMNS).is_null()).any()
    ).item():
        return frame
    sources = {f"tokens_{phase}": phase for phase in PHASES} | {"tokens_total": "trace"}
    counts = [counter.count(source).alias(column) for column, source in sources.items()]
    return with_columns_on_all_cores(frame, *counts)
