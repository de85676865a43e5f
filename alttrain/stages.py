"""The Python API: one function per stage, each reading the run directory and writing its own file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alttrain.config import RunConfig
from alttrain.records import write_stage
from alttrain.synthesis.prompt_pool import SourceCount, build_prompt_pool

PROMPTS_FILE = "prompts.parquet"


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
