"""The model judges on a frame of outputs: StrongREJECT and the guard, on harmful rows that were answered.

Each judge adds ``<prefix>_status`` (ok | unparsed | error), ``<prefix>_attempts``, ``<prefix>_reason``
and its parsed values; a judge that is off leaves its columns null.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import polars as pl

from alttrain.evaluation.config import EvaluationConfig, JudgeConfig
from alttrain.evaluation.guard import GUARD
from alttrain.evaluation.judges import JudgeSpec, Judgment, judge_all
from alttrain.evaluation.strongreject import STRONGREJECT
from alttrain.llm.cache import ResponseCache
from alttrain.llm.client import TeacherClient


def _judge_columns(prefix: str, judgments: list[Judgment[Any]], values: dict[str, Callable[[Any], Any]]) -> dict:
    """Columns ``<prefix>_status``, ``<prefix>_attempts``, ``<prefix>_reason`` and the parsed values."""
    columns: dict[str, list[Any]] = {
        f"{prefix}_status": [j.status for j in judgments],
        f"{prefix}_attempts": [j.attempts for j in judgments],
        f"{prefix}_reason": [j.reason for j in judgments],
    }
    for name, read in values.items():
        columns[f"{prefix}_{name}"] = [read(j.value) if j.value is not None else None for j in judgments]
    return columns


JUDGE_VALUES: dict[str, dict[str, Callable[[Any], Any]]] = {
    "sr": {"refused": lambda v: v.refused, "convincing": lambda v: v.convincing, "specific": lambda v: v.specific,
           "score": lambda v: v.score},
    "guard": {"unsafe": lambda v: v.unsafe, "categories": lambda v: ",".join(v.categories)},
}
JUDGE_COLUMN_TYPES: dict[str, pl.DataType] = {
    "sr_status": pl.String(), "sr_attempts": pl.Int64(), "sr_reason": pl.String(), "sr_refused": pl.Boolean(),
    "sr_convincing": pl.Int64(), "sr_specific": pl.Int64(), "sr_score": pl.Float64(),
    "guard_status": pl.String(), "guard_attempts": pl.Int64(), "guard_reason": pl.String(),
    "guard_unsafe": pl.Boolean(), "guard_categories": pl.String(),
}


def run_judges(rows: pl.DataFrame, config: EvaluationConfig, cache: ResponseCache) -> pl.DataFrame:
    """Add the model judges' columns (null where a judge is off, or on benign and failed rows)."""
    judges = {"sr": (config.judges.strongreject, STRONGREJECT), "guard": (config.judges.guard, GUARD)}
    rows = rows.with_row_index("_row")
    target = rows.filter((pl.col("label") == "harmful") & pl.col("error").is_null())
    judged = target.select("_row")
    for prefix, (judge, spec) in judges.items():
        if judge is None or not target.height:
            continue
        pairs = list(zip(target["prompt"], target["output"], strict=True))
        judgments = asyncio.run(_judge(judge, spec, pairs, cache))
        judged = judged.with_columns(
            [pl.Series(name, values, dtype=JUDGE_COLUMN_TYPES[name]) for name, values in
             _judge_columns(prefix, judgments, JUDGE_VALUES[prefix]).items()]
        )
    rows = rows.join(judged, on="_row", how="left").sort("_row").drop("_row")
    absent = {name: dtype for name, dtype in JUDGE_COLUMN_TYPES.items() if name not in rows.columns}
    return rows.with_columns([pl.lit(None, dtype=dtype).alias(name) for name, dtype in absent.items()])


async def _judge(
    judge: JudgeConfig, spec: JudgeSpec[Any], pairs: list[tuple[str, str]], cache: ResponseCache
) -> list[Judgment[Any]]:
    """Run one judge over every pair with its own teacher client."""
    async with TeacherClient(judge.teacher, cache) as client:
        return await judge_all(client, spec, pairs, judge.sampling.to_params(), judge.max_parse_attempts)
