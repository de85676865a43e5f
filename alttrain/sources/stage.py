"""The ``prompts`` stage: build ``RUN/prompts.parquet`` from the configured sources."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from alttrain.console import say
from alttrain.layout import PROMPTS_FILE
from alttrain.records import write_stage
from alttrain.sources.pool import SourceCount, build_prompt_pool
from alttrain.stage import Stage, on_run_dir

if TYPE_CHECKING:
    from alttrain.config import RunConfig


@dataclass(frozen=True)
class PromptsResult:
    """What the prompts stage wrote and counted."""

    path: Path
    rows: int
    sources: list[SourceCount]


def run_prompts(config: RunConfig, run_dir: Path) -> PromptsResult:
    """Build ``run_dir/prompts.parquet`` from the configured sources."""
    pool, summary = build_prompt_pool(config.prompts)
    path = run_dir / PROMPTS_FILE
    write_stage(pool, path, "prompts")
    return PromptsResult(path=path, rows=pool.height, sources=summary)


def show_prompts(console: Console, result: PromptsResult, config: RunConfig) -> None:
    """The prompt pool per source."""
    table = Table(title="prompt pool")
    for column in ("source", "license", "loaded", "sampled", "merged", "kept", "harmful", "benign"):
        table.add_column(column, justify="left" if column in {"source", "license"} else "right")
    for row in result.sources:
        numbers = (row.loaded, row.sampled, row.duplicates_merged, row.kept, row.harmful, row.benign)
        table.add_row(row.source, row.license, *map(str, numbers))
    console.print(table)
    say(console, f"wrote {result.path} ({result.rows} prompts)")



PROMPTS_STAGE = Stage(
    name="prompts",
    summary="Build RUN/prompts.parquet from the configured prompt sources.",
    sections=("prompts",),
    inputs=(),
    outputs=(PROMPTS_FILE,),
    run=on_run_dir(run_prompts),
    show=show_prompts,
)
