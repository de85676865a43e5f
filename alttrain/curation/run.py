"""The curate stage on a run directory: synthesized.parquet in; curated, rejected and the report out."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alttrain.config import RunConfig
from alttrain.curation.filters.base import FilterContext
from alttrain.curation.pipeline import curate
from alttrain.curation.report import CurationReport
from alttrain.curation.tokens import make_counter
from alttrain.layout import CACHE_FILE, CURATED_FILE, REJECTED_FILE, SYNTHESIZED_FILE
from alttrain.layout import CURATION_REPORT_FILE as REPORT_FILE
from alttrain.records import read_stage, write_stage


@dataclass(frozen=True)
class CurationResult:
    """What the curate stage wrote, and its funnel."""

    curated_path: Path
    rejected_path: Path
    report_path: Path
    report: CurationReport


def curate_run(config: RunConfig, run_dir: Path) -> CurationResult:
    """Curate ``run_dir/synthesized.parquet`` (see :mod:`alttrain.curation.pipeline`).

    Raises:
        FileNotFoundError: without synthesized.parquet.
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
    outcome = curate(synthesized, config.curation, context, seed=config.seed)
    paths = run_dir / CURATED_FILE, run_dir / REJECTED_FILE, run_dir / REPORT_FILE
    write_stage(outcome.curated, paths[0], "curated")
    write_stage(outcome.rejected, paths[1], "rejected")
    outcome.report.write(paths[2])
    return CurationResult(*paths, report=outcome.report)
