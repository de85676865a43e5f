"""User files as prompt sources: a table on disk with a column mapping (see :mod:`alttrain.sources.mapping`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import polars as pl
from pydantic import Field, model_validator

from alttrain.prompt_sets.base import DEFAULT_MAX_BYTES, ReadBounds, read_bounded_table
from alttrain.sources.mapping import MappedSource


class FileSource(MappedSource):
    """A user file (JSONL, JSON array, their ``.gz`` forms, CSV, TSV, parquet, or a saved HF dataset directory).

    ``columns`` maps schema names (``prompt``, ``label``, ``category``, ``original_reasoning``,
    ``original_answer``, ``reference_answer``, ``response``, ``source_score``, ``request``) to the file's
    column names; ``label`` may instead be fixed for the whole file, and ``preset`` fills the mapping of a peer dataset.

    ``header: false``: a CSV/TSV file without a header line (its columns are ``column_1``, ``column_2``, ...).
    ``data_dir``: a folder a relative ``path`` is read from (folded into ``path`` when the config loads, so one
    value, shared with a YAML anchor, can point several sources at a data directory).

    The file is streamed (CSV/TSV aside): ``n`` rows are sampled as it is read, ``max_rows`` stops the reading
    after that many rows, and a file larger than ``max_bytes`` (decompressed; null: no bound) is an error.
    """

    kind: Literal["file"] = "file"
    path: Path
    data_dir: Path | None = Field(default=None, exclude=True)
    header: bool = True
    max_rows: int | None = Field(default=None, ge=1)
    max_bytes: int | None = Field(default=DEFAULT_MAX_BYTES, ge=1)

    @model_validator(mode="after")
    def _in_data_dir(self) -> FileSource:
        """Read a relative ``path`` from ``data_dir`` when one is given."""
        if self.data_dir is not None and not self.path.is_absolute():
            self.path = self.data_dir / self.path
            self.data_dir = None
        return self

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
        return read_bounded_table(self.path, bounds, header=self.header)
