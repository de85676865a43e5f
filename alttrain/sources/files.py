"""User files as prompt sources: a table on disk with a column mapping."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import polars as pl
from pydantic import Field

from alttrain.errors import SourceError
from alttrain.sources.base import PromptSource, prompt_frame, read_table
from alttrain.structure import LABELS


class FileSource(PromptSource):
    """A user file (JSONL, CSV, parquet, or a saved HF dataset directory) with a column mapping.

    ``columns`` maps schema names (``prompt``, ``label``, ``category``, ``original_reasoning``,
    ``original_answer``, ``reference_answer``) to the file's column names. ``label`` may instead be
    fixed for the whole file.
    """

    kind: Literal["file"] = "file"
    path: Path
    source_name: str | None = None
    license: str = "unknown (user supplied)"
    label: Literal["harmful", "benign"] | None = None
    category: str = "user"
    columns: dict[str, str] = Field(default_factory=dict)

    @property
    def name(self) -> str:
        """``source_name`` or the file name."""
        return self.source_name or self.path.name

    def load(self) -> pl.DataFrame:
        """Read, map columns, check labels and prompts."""
        raw = read_table(self.path)
        mapping = {"prompt": "prompt", **self.columns}
        if self.label is None:
            mapping.setdefault("label", "label")
        for target, column in mapping.items():
            if column not in raw.columns:
                raise SourceError(
                    f"{self.path}: mapped column {column!r} (for {target!r}) not found; file has {raw.columns}"
                )
        frame = raw.select([pl.col(col).cast(pl.String).alias(target) for target, col in mapping.items()])
        if self.label is not None:
            frame = frame.with_columns(pl.lit(self.label).alias("label"))
        if "category" not in frame.columns:
            frame = frame.with_columns(pl.lit(self.category).alias("category"))
        frame = frame.with_columns(pl.col("prompt").str.strip_chars())
        bad_prompt = frame.with_row_index("row").filter(pl.col("prompt").is_null() | (pl.col("prompt") == ""))
        if bad_prompt.height:
            raise SourceError(f"{self.path}: empty prompt in row {bad_prompt['row'][0] + 1}")
        bad_label = frame.with_row_index("row").filter(~pl.col("label").is_in(["harmful", "benign"]))
        if bad_label.height:
            row = bad_label.row(0, named=True)
            raise SourceError(f"{self.path}: row {row['row'] + 1} has label {row['label']!r}, not harmful|benign")
        rows = frame.to_dicts()
        parts = [prompt_frame([r for r in rows if r["label"] == lab], self.name, lab, self.license) for lab in LABELS]
        return pl.concat(parts)
