"""User files as prompt sources: a table on disk with a column mapping (see :mod:`alttrain.sources.mapping`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import polars as pl

from alttrain.sources.base import read_table
from alttrain.sources.mapping import MappedSource


class FileSource(MappedSource):
    """A user file (JSONL, JSON array, their ``.gz`` forms, CSV, parquet, or a saved HF dataset directory).

    ``columns`` maps schema names (``prompt``, ``label``, ``category``, ``original_reasoning``,
    ``original_answer``, ``reference_answer``, ``response``) to the file's column names; ``label`` may
    instead be fixed for the whole file, and ``preset`` fills the mapping of a peer dataset.
    """

    kind: Literal["file"] = "file"
    path: Path

    @property
    def where(self) -> str:
        """The file path."""
        return str(self.path)

    def default_name(self) -> str:
        """The file name."""
        return self.path.name

    def read_raw(self) -> pl.DataFrame:
        """The file as a table."""
        return read_table(self.path)
