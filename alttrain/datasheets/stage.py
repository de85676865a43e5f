"""The ``datasheet`` stage: the datasheet, the dataset card, figures and exports of the final dataset."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from alttrain.console import say
from alttrain.datasheets.view import DatasheetView
from alttrain.layout import (
    CARD_FILE,
    CURATED_FILE,
    CURATION_REPORT_FILE,
    DATASET_HF_DIR,
    DATASHEET_FILE,
    LOGS_DIR,
    PROMPTS_FILE,
    REJECTED_FILE,
    REVIEW_REPORT_FILE,
    REVIEWED_FILE,
    SYNTHESIZED_FILE,
)
from alttrain.quiet import library_output_to
from alttrain.stage import Stage, on_run_dir

if TYPE_CHECKING:
    from alttrain.datasheets.build import DatasheetResult


def run_datasheet(config: DatasheetView, run_dir: Path) -> DatasheetResult:
    """Document and export the final dataset: ``RUN/datasheet/`` (datasheet, card, figures), ``RUN/dataset/``."""
    from alttrain.datasheets.build import build_datasheet

    with library_output_to(run_dir / LOGS_DIR / "datasheet.log"):
        return build_datasheet(config, run_dir)


def show_datasheet(console: Console, result: DatasheetResult, config: DatasheetView) -> None:
    """Per-source counts of the final dataset and the documents written."""
    sheet = result.provenance
    table = Table(title=f"datasheet ({sheet.final_stage} output, license {sheet.licenses.statement})")
    for column in ("source", "in prompt pool", "synthesized ok", "in dataset", "harmful", "benign"):
        table.add_column(column, justify="left" if column == "source" else "right")
    for row in sheet.sources:
        numbers = (row.pooled, row.synthesized_ok, row.final, row.final_harmful, row.final_benign)
        table.add_row(row.source, *map(str, numbers))
    console.print(table)
    drawn = [f.path for f in result.figures if f.path]
    for figure in result.figures:
        if figure.skipped:
            say(console, f"  figure {figure.name} skipped: {figure.skipped}")
    say(console, f"wrote {result.datasheet} and {result.card} ({len(drawn)} figures; "
                 f"{result.needs_human} questions marked for a human)")
    say(console, f"wrote {result.exports.folder} ({result.exports.rows} rows: hf/, train.jsonl, "
                 "train_reasoning_content.jsonl, instruction_response.jsonl, train.parquet)")
    for row in result.gap:
        where = "this dataset" if row.this_run else "variant"
        say(console, f"  distribution gap: {row.variant} ({where}, {row.rows} traces, {row.tokens} tokens): "
                     f"base-model NLL {row.mean_nll:.3f} per token")
    if result.pushed_to:
        say(console, f"pushed to {result.pushed_to}")



DATASHEET_STAGE = Stage(
    name="datasheet",
    summary="Write the datasheet, the dataset card, figures and exports: RUN/datasheet/ and RUN/dataset/.",
    view=DatasheetView,
    inputs=(PROMPTS_FILE, SYNTHESIZED_FILE, CURATED_FILE, REJECTED_FILE, CURATION_REPORT_FILE, REVIEWED_FILE,
            REVIEW_REPORT_FILE),
    outputs=(DATASHEET_FILE, CARD_FILE, DATASET_HF_DIR),
    run=on_run_dir(run_datasheet),
    show=show_datasheet,
)
