"""User files as prompt sources: a table on disk with a column mapping (see :mod:`alttrain.sources.mapping`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import polars as pl
from pydantic import Field

from alttrain.prompt_sets.base import DEFAULT_MAX_BYTES, ReadBounds, read_bounded_table
from alttrain.sources.mapping import MappedSource


class FileSource(MappedSource):
    """A user file (JSONL, JSON array, their ``.gz`` forms, CSV, parquet, or a saved HF dataset directory).

    ``columns`` maps schema names (``prompt``, ``label``, ``category``, ``original_reasoning``,
    ``original_answer``, ``reference_answer``, ``response``, ``source_score``, ``request``) to the file's
    column names; ``label`` may instead be fixed for the whole file, and ``preset`` fills the mapping of a peer dataset.

    The file is streamed (CSV aside): ``n`` rows are sampled as it is read, ``max_rows`` stops the reading
    after that many rows, and a file larger than ``max_bytes`` (decompressed; null: no bound) is an error.
    """

    kind: Literal["file"] = "file"
    path: Path
    max_rows: int | None = Field(default=None, ge=1)
    max_bytes: int | None = Field(default=DEFAULT_MAX_BYTES, ge=1)

    @property
    def where(self) -> str:
        """The file path."""
        return str(self.path)

    def default_name(self) -> str:
        """The file name."""
        return self.path.name

    def read_raw(self, seed: int) -> tuple[pl.DataFrame, int]:
        """The file's rows (``n`` of them sampled with ``seed`` when set), and the rows read."""
        bounds = ReadBounds(keep=self.n, seed=seed, max_rows=self.max_rows, max_bytes=self.max_bytes)
        return read_bounded_table(self.path, bounds)
