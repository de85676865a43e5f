"""The ``datasheet`` stage: read the run, export the dataset, draw figures, render both documents."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alttrain.datasheets.exports import Exports, write_exports
from alttrain.datasheets.figures import Figure, write_figures
from alttrain.datasheets.gap import GapRow, measure_gap
from alttrain.datasheets.hub import push_dataset
from alttrain.datasheets.inputs import load_run_inputs
from alttrain.datasheets.provenance import Provenance, gather_provenance
from alttrain.datasheets.render import NEEDS_HUMAN, render_documents
from alttrain.datasheets.stats import measure, phase_lengths, rewrite_lengths
from alttrain.datasheets.view import DatasheetView
from alttrain.layout import DATASET_DIR, DATASET_HF_DIR, DATASHEET_DIR
from alttrain.measures import make_counter


@dataclass(frozen=True)
class DatasheetResult:
    """What the datasheet stage wrote and counted."""

    datasheet: Path
    card: Path
    figures: list[Figure]
    exports: Exports
    provenance: Provenance
    needs_human: int  # questions left for a human in the datasheet
    pushed_to: str | None
    gap: list[GapRow]  # the distribution gap (empty unless ``datasheet.distribution_gap`` is set)


def build_datasheet(config: DatasheetView, run_dir: Path) -> DatasheetResult:
    """Document and export the final dataset of the run in ``run_dir``.

    Raises:
        MissingInputError: a required run file is missing.
        SchemaError: a stage file misses its columns.
        DatasheetError: the run's files are inconsistent, or pushing is asked for without a token.

    """
    inputs = load_run_inputs(run_dir)
    measured = measure(inputs.final, make_counter(config.curation.tokenizer))
    provenance = gather_provenance(config, inputs, measured)
    exports = write_exports(inputs.final, config.structure, run_dir / DATASET_DIR)
    folder = run_dir / DATASHEET_DIR
    figures = write_figures(provenance, inputs.final, phase_lengths(measured), rewrite_lengths(measured), folder)
    sheet = config.datasheet
    hub_repo = sheet.hub_repo_id if sheet.push_to_hub else None
    gap = measure_gap(sheet.distribution_gap, inputs.final, config.synthesis.mode) if sheet.distribution_gap else []
    datasheet, card = render_documents(provenance, figures, exports.rows, sheet.language, hub_repo, folder, gap)
    pushed = push_dataset(run_dir / DATASET_HF_DIR, folder, sheet) if sheet.push_to_hub else None
    return DatasheetResult(
        datasheet=datasheet,
        card=card,
        figures=figures,
        exports=exports,
        provenance=provenance,
        needs_human=datasheet.read_text(encoding="utf-8").count(NEEDS_HUMAN),
        pushed_to=pushed,
        gap=gap,
    )
