"""The ``curate`` stage: ``RUN/synthesized.parquet`` in; curated, rejected and the funnel report out."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from alttrain.console import say
from alttrain.curation.filters.base import FilterContext
from alttrain.curation.pipeline import curate
from alttrain.curation.report import CurationReport
from alttrain.curation.view import CurationView
from alttrain.layout import CACHE_FILE, CURATED_FILE, REJECTED_FILE, SYNTHESIZED_FILE
from alttrain.layout import CURATION_REPORT_FILE as REPORT_FILE
from alttrain.measures import make_counter
from alttrain.records import read_stage, write_stage
from alttrain.stage import Stage, on_run_dir


@dataclass(frozen=True)
class CurationResult:
    """What the curate stage wrote, and its funnel."""

    curated_path: Path
    rejected_path: Path
    report_path: Path
    report: CurationReport


def run_curation(config: CurationView, run_dir: Path) -> CurationResult:
    """Filter, deduplicate and select ``RUN/synthesized.parquet`` (see :mod:`alttrain.curation.pipeline`).

    Raises:
        MissingInputError: without synthesized.parquet.
        SchemaError: when it does not match the synthesized schema.
        CurationError: for unusable curation settings (a tokenizer path, a judge without an LLM).

    """
    synthesized = read_stage(run_dir / SYNTHESIZED_FILE, "synthesized")
    context = FilterContext(
        spec=config.structure,
        counter=make_counter(config.curation.tokenizer),
        teacher=config.synthesis.teacher,
        cache_path=config.synthesis.cache_path or run_dir / CACHE_FILE,
    )
    outcome = curate(synthesized, config.curation, context)
    paths = run_dir / CURATED_FILE, run_dir / REJECTED_FILE, run_dir / REPORT_FILE
    write_stage(outcome.curated, paths[0], "curated")
    write_stage(outcome.rejected, paths[1], "rejected")
    outcome.report.write(paths[2])
    return CurationResult(*paths, report=outcome.report)


def show_curation(console: Console, result: CurationResult, config: CurationView) -> None:
    """The curation funnel with every drop reason."""
    table = Table(title="curation funnel")
    for column in ("step", "removed", "remaining"):
        table.add_column(column, justify="left" if column == "step" else "right")
    for step, removed, remaining in result.report.table():
        table.add_row(step, str(removed), str(remaining))
    console.print(table)
    steps = [result.report.quarantined, *result.report.filters, *result.report.dedup]
    for reason, rows in sorted((r, n) for step in steps for r, n in step.reasons.items()):
        say(console, f"  {rows} x {reason}")
    for template in result.report.shared_templates:
        rows, excerpt = template.rows, template.excerpt
        say(console, f"  shared template in {rows} prompts (near-dup compares without it): {excerpt!r}")
    for warning in result.report.warnings:
        console.print(f"[yellow]warning:[/yellow] {warning}", highlight=False, soft_wrap=True)
    labels = ", ".join(f"{label} {rows}" for label, rows in result.report.selected_by_label.items())
    say(console, f"wrote {result.curated_path} ({result.report.selected} rows: {labels}), {result.rejected_path}")
    say(console, f"wrote {result.report_path}")



CURATION_STAGE = Stage(
    name="curate",
    summary="Filter, deduplicate and select the balanced set: RUN/curated.parquet + RUN/rejected.parquet.",
    view=CurationView,
    inputs=(SYNTHESIZED_FILE,),
    outputs=(CURATED_FILE, REJECTED_FILE, REPORT_FILE),
    run=on_run_dir(run_curation),
    show=show_curation,
)
