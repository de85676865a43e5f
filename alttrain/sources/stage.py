"""The ``prompts`` stage: build ``RUN/prompts.parquet`` from the configured sources."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from alttrain.console import say
from alttrain.hub_revision import commits_metadata
from alttrain.layout import PROMPTS_FILE
from alttrain.records import write_stage
from alttrain.sources.pool import SourceCount, build_prompt_pool
from alttrain.sources.view import PromptsView
from alttrain.stage import Stage, on_run_dir


@dataclass(frozen=True)
class PromptsResult:
    """What the prompts stage wrote and counted."""

    path: Path
    rows: int
    sources: list[SourceCount]


def run_prompts(config: PromptsView, run_dir: Path) -> PromptsResult:
    """Build ``run_dir/prompts.parquet`` from the configured sources."""
    pool, summary = build_prompt_pool(config.prompts)
    path = run_dir / PROMPTS_FILE
    commits = {row.source: row.commit for row in summary if row.commit is not None}
    write_stage(pool, path, "prompts", metadata=commits_metadata(commits))
    return PromptsResult(path=path, rows=pool.height, sources=summary)


def labels_found(row: SourceCount) -> str:
    """``value→label n`` per label value found (``label n (fixed)`` for a fixed label), rows read."""
    parts = []
    for value, label, count in row.labels_found:
        if value is None:
            parts.append(f"{label} {count} (fixed)")
        elif value == label:
            parts.append(f"{label} {count}")
        else:
            parts.append(f"{value}→{label} {count}")
    return ", ".join(parts)


def show_prompts(console: Console, result: PromptsResult, config: PromptsView) -> None:
    """The prompt pool per source, and how each source's response column split into reasoning and answer."""
    table = Table(title="prompt pool")
    for column in ("source", "license", "loaded", "sampled", "merged", "kept", "harmful", "benign"):
        table.add_column(column, justify="left" if column in {"source", "license"} else "right")
    for row in result.sources:
        numbers = (row.loaded, row.sampled, row.duplicates_merged, row.kept, row.harmful, row.benign)
        table.add_row(row.source, row.license, *map(str, numbers))
    console.print(table)
    for row in result.sources:
        say(console, f"  {row.source}: labels found {labels_found(row)}")
        if row.commit is not None:
            say(console, f"  {row.source}: Hub commit {row.commit}")
        warning = row.label_warning()
        if warning is not None:
            console.print(f"[yellow]warning:[/yellow] {escape(warning)}", highlight=False, soft_wrap=True)
    with_traces = [row for row in result.sources if row.traces is not None]
    if with_traces:
        traces = Table(title="original traces (response column, rows read)")
        for column in ("source", "rows", "split", "empty think", "no tags", "unclosed", "empty"):
            traces.add_column(column, justify="left" if column == "source" else "right")
        for row in with_traces:
            t = row.traces
            assert t is not None
            numbers = (t.rows, t.split, t.empty_think, t.no_tags, t.unclosed, t.empty)
            traces.add_row(row.source, *map(str, numbers))
        console.print(traces)
    say(console, f"wrote {result.path} ({result.rows} prompts)")


PROMPTS_STAGE = Stage(
    name="prompts",
    summary="Build RUN/prompts.parquet from the configured prompt sources.",
    view=PromptsView,
    inputs=(),
    outputs=(PROMPTS_FILE,),
    run=on_run_dir(run_prompts),
    show=show_prompts,
)
