"""Export the final dataset in the forms trainers read, under ``RUN/dataset/``.

- ``hf/``: a ``datasets.DatasetDict`` with split ``train`` and the columns :data:`HF_COLUMNS` (the
  training stage reads this: keep it exactly);
- ``train.jsonl``: chat ``messages`` (user prompt, assistant ``<think>...</think>answer`` trace);
- ``train_reasoning_content.jsonl``: the assistant message split into ``reasoning_content`` (the
  think body) and ``content`` (the final answer);
- ``instruction_response.jsonl``: ``{"instruction": prompt, "response": trace}``;
- ``train.parquet``: the same rows and columns as ``hf/``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import datasets
import polars as pl

from alttrain.errors import DatasheetError
from alttrain.languages import row_language
from alttrain.layout import CHAT_NAME, HF_NAME, INSTRUCTION_NAME, PARQUET_NAME, REASONING_CONTENT_NAME
from alttrain.structure import Markers, StructureSpec

HF_COLUMNS = ("id", "prompt", "label", "category", "source", "license", "understanding", "assessment",
              "verdict", "reasoning", "answer", "trace", "messages")
SPLIT = "train"


@dataclass(frozen=True)
class Exports:
    """Where the exports were written and how many rows each holds."""

    folder: Path
    rows: int

    @property
    def files(self) -> dict[str, Path]:
        """Every export by its name, ``hf`` being the saved DatasetDict folder."""
        names = (HF_NAME, CHAT_NAME, REASONING_CONTENT_NAME, INSTRUCTION_NAME, PARQUET_NAME)
        return {name: self.folder / name for name in names}


def think_parts(spec: Markers, trace: str) -> tuple[str, str]:
    """Split a trace into its think body and its final answer (both stripped).

    Raises:
        DatasheetError: when the trace has no closed think block.

    """
    start = trace.find(spec.think_open)
    end = trace.find(spec.think_close, start + len(spec.think_open)) if start >= 0 else -1
    if end < 0:
        raise DatasheetError(f"trace has no closed {spec.think_open}...{spec.think_close} block")
    return trace[start + len(spec.think_open) : end].strip(), trace[end + len(spec.think_close) :].strip()


def export_frame(final: pl.DataFrame) -> pl.DataFrame:
    """Select the exported columns of the final rows, with ``messages`` as a list of role/content structs."""
    messages = pl.concat_list(
        pl.struct(pl.lit("user").alias("role"), pl.col("prompt").alias("content")),
        pl.struct(pl.lit("assistant").alias("role"), pl.col("trace").alias("content")),
    ).alias("messages")
    return final.with_columns(messages).select(HF_COLUMNS)


def _write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> None:
    """Write one JSON object per line (UTF-8, not ASCII-escaped)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    tmp.replace(path)


def _reasoning_content_rows(rows: list[dict[str, Any]], spec: StructureSpec) -> Iterable[dict[str, Any]]:
    """Chat rows whose assistant message carries the think body (its language's tags) as ``reasoning_content``."""
    for row in rows:
        markers = spec.markers(row_language(row.get("language"), row["prompt"] or ""))
        try:
            body, answer = think_parts(markers, row["trace"])
        except DatasheetError as error:
            raise DatasheetError(f"row {row['id']}: {error}") from None
        assistant = {"role": "assistant", "reasoning_content": body, "content": answer}
        yield {"messages": [{"role": "user", "content": row["prompt"]}, assistant]}


def _save_hf(frame: pl.DataFrame, target: Path) -> None:
    """Save ``frame`` as a DatasetDict (split ``train``), replacing any previous export."""
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    datasets.DatasetDict({SPLIT: datasets.Dataset.from_polars(frame)}).save_to_disk(str(tmp))
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)


def write_exports(final: pl.DataFrame, spec: StructureSpec, folder: Path) -> Exports:
    """Write every export of ``final`` under ``folder`` (usually ``RUN/dataset``).

    Raises:
        DatasheetError: when a trace has no closed think block (naming the row).

    """
    frame = export_frame(final)
    rows = frame.select("id", "prompt", "trace").to_dicts()
    folder.mkdir(parents=True, exist_ok=True)
    _write_jsonl(folder / REASONING_CONTENT_NAME, _reasoning_content_rows(rows, spec))
    _write_jsonl(folder / CHAT_NAME, ({"messages": messages} for messages in frame["messages"].to_list()))
    pairs = ({"instruction": row["prompt"], "response": row["trace"]} for row in rows)
    _write_jsonl(folder / INSTRUCTION_NAME, pairs)
    frame.write_parquet(folder / PARQUET_NAME)
    _save_hf(frame, folder / HF_NAME)
    return Exports(folder=folder, rows=frame.height)
