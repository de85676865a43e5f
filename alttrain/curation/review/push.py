"""Push curated candidates to Argilla: one record per row, upserted by id, in batches."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alttrain.curation.review.config import ReviewConfig
from alttrain.curation.review.connection import connect, ensure_dataset
from alttrain.curation.review.dataset import check_reviewable, to_records
from alttrain.layout import CURATED_FILE
from alttrain.records import read_stage
from alttrain.structure import StructureSpec


@dataclass(frozen=True)
class PushResult:
    """What a push sent and where."""

    api_url: str
    workspace: str
    dataset: str
    created: bool  # the dataset was created by this push
    pushed: int  # records sent (new and updated)
    records_in_dataset: int  # records the dataset holds afterwards


def push_for_review(config: ReviewConfig, spec: StructureSpec, run_dir: Path, run_name: str) -> PushResult:
    """Send ``run_dir/curated.parquet`` to the run's Argilla dataset (re-running updates, never duplicates).

    Raises:
        MissingInputError: when curation has not run.
        SchemaError: when the curated file misses the synthesized schema.
        ReviewDataError: when rows lack a phase or ids repeat.
        ReviewError: when Argilla is unreachable or its dataset has another design.

    """
    curated = read_stage(run_dir / CURATED_FILE, "synthesized")
    check_reviewable(curated)
    records = to_records(curated, spec)
    client = connect(config)
    name = config.dataset_name(run_name)
    dataset, created = ensure_dataset(client, config, name, spec)
    if records:
        dataset.records.log(records, batch_size=min(config.batch_size, len(records)))
    total = dataset.progress()["total"]
    return PushResult(config.resolved_api_url(), config.workspace, name, created, len(records), total)
