"""The curation pipeline: synthesized rows in; curated selection, rejected rows and the funnel out.

Order: rows quarantined by synthesis (or with a bad status) are set aside; rows with status ok are
checked for usable input (a label, a trace, an id), then pass the configured filters in order, get a
score, are deduplicated, and the selection picks the final set. Every row leaves in exactly one of
curated (``filter_reason`` null) or rejected (``filter_reason`` set), and the report's counts add up.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import polars as pl

from alttrain.curation.config import CurationConfig
from alttrain.curation.dedup import deduplicate, prompt_clusters, prompt_templates
from alttrain.curation.filters.base import DROP, FilterContext, first_reason
from alttrain.curation.report import CurationReport, FunnelStep, reduction_stats, step_of
from alttrain.curation.score import with_scores
from alttrain.curation.selection import select
from alttrain.records import STATUS_OK, STATUS_QUARANTINED, conform
from alttrain.structure import LABELS

REASON = "filter_reason"


@dataclass(frozen=True)
class CurationOutcome:
    """The selection, everything else (each with its reason), and the funnel."""

    curated: pl.DataFrame
    rejected: pl.DataFrame
    report: CurationReport


def _quarantine_reason() -> pl.Expr:
    """Why a row never enters curation: synthesis quarantined it, or its status is unknown."""
    return first_reason(
        (
            pl.col("status") == STATUS_QUARANTINED,
            pl.lit("synthesis:quarantined: ") + pl.col("reason").fill_null("no reason recorded"),
        ),
        (pl.col("status").ne_missing(STATUS_OK), pl.lit("synthesis:bad_status:") + pl.col("status").fill_null("null")),
    )


def _input_reason() -> pl.Expr:
    """Why a row with status ok cannot be curated at all."""
    return first_reason(
        (pl.col("id").is_null() | (pl.col("id") == ""), "input:no_id"),
        (
            ~pl.col("label").is_in(LABELS).fill_null(False),
            pl.lit("input:bad_label:") + pl.col("label").fill_null("null"),
        ),
        (pl.col("prompt").is_null() | (pl.col("prompt").str.strip_chars() == ""), "input:no_prompt"),
        (pl.col("trace").is_null() | (pl.col("trace").str.strip_chars() == ""), "input:no_trace"),
    )


def _split(frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(dropped with their ``filter_reason``, kept without the DROP column)."""
    dropped = frame.filter(pl.col(DROP).is_not_null()).with_columns(pl.col(DROP).alias(REASON)).drop(DROP)
    return dropped, frame.filter(pl.col(DROP).is_null()).drop(DROP)


def _filter(
    frame: pl.DataFrame, config: CurationConfig, context: FilterContext
) -> tuple[list[pl.DataFrame], list[FunnelStep], pl.DataFrame]:
    """Set aside quarantined and unusable rows, then run the filters in order.

    Returns the dropped parts (quarantined first), the funnel step of input checks and each filter,
    and the rows that passed.
    """
    quarantined, alive = _split(frame.with_columns(_quarantine_reason()))
    invalid, alive = _split(alive.with_columns(_input_reason()))
    dropped, steps = [quarantined, invalid], [step_of("input", invalid, REASON)]
    for item in config.filters:
        removed, alive = _split(item.apply(alive, context))
        steps.append(step_of(item.name, removed, REASON))
        dropped.append(removed)
    return dropped, steps, alive


def curate(synthesized: pl.DataFrame, config: CurationConfig, context: FilterContext) -> CurationOutcome:
    """Run filters, scoring, dedup and selection over a synthesized frame (see the module docstring)."""
    frame = synthesized.with_row_index("_row").with_columns(pl.lit(None, dtype=pl.String).alias(REASON))
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="alttrain-clusters") as pool:
        # clustering reads only the prompts, so it runs beside the filters (both mostly in native code)
        clustering = pool.submit(prompt_clusters, frame.select("_row", "id", "prompt"), config.dedup)
        templating = pool.submit(prompt_templates, frame["prompt"], config.dedup)
        dropped, filter_steps, alive = _filter(frame, config, context)
        clusters, templates = clustering.result(), templating.result()

    alive = with_scores(alive, config.score, context.counter)
    selection_seed = config.selection.seed
    competitors = [part.select("_row", "id", REASON) for part in dropped]
    competitors.append(alive.select("_row", "id", REASON, "score"))
    competing = pl.concat(competitors, how="diagonal_relaxed")
    verdicts = deduplicate(competing, clusters, config.dedup, selection_seed)
    merged, alive = _split(alive.join(verdicts, on="_row", how="left"))
    dedup_steps = [
        step_of("exact", merged.filter(pl.col(REASON) == "dedup:exact"), REASON),
        step_of("near", merged.filter(pl.col(REASON).str.starts_with("dedup:near:")), REASON, group_prefix=True),
    ]
    selection = select(alive, config.selection, selection_seed)
    not_selected, curated = _split(selection.frame)

    cluster_ids = verdicts.select("_row", "cluster_id")
    earlier = [part.join(cluster_ids, on="_row", how="left") for part in dropped]
    rejected = pl.concat([*earlier, merged, not_selected], how="diagonal_relaxed").sort("_row")
    curated = curated.sort("_row")
    report = CurationReport(
        rows_in=frame.height,
        quarantined=step_of("quarantined", dropped[0], REASON),
        input=frame.height - dropped[0].height,
        filters=filter_steps,
        dedup=dedup_steps,
        not_selected=not_selected.height,
        selected=curated.height,
        selected_by_label=selection.selected_by_label,
        selected_by_category=dict(curated.group_by("category").len().sort("category").iter_rows()),
        length_reduction=reduction_stats(curated),
        warnings=selection.warnings,
        shared_templates=templates,
    )
    return CurationOutcome(
        curated=conform(curated.drop("_row"), "curated"),
        rejected=conform(rejected.drop("_row"), "rejected"),
        report=report,
    )
