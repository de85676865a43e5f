"""Pull reviews back from Argilla: RUN/reviewed.parquet, review rejections in RUN/rejected.parquet, a report.

Every curated row ends up in exactly one of ``reviewed.parquet`` (accepted, or unreviewed under the
``keep`` policy) and the rows this pull appends to ``rejected.parquet`` (``filter_reason`` starting with
``review:``). Re-running a pull replaces the review rows it appended before, so it never duplicates.
Nothing is written when Argilla is unreachable or the ``fail`` policy finds unreviewed records.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import argilla as rg
import polars as pl

from alttrain.curation.review.config import ReviewConfig
from alttrain.curation.review.connection import connect, find_dataset
from alttrain.curation.review.dataset import (
    QUESTION_DECISION,
    QUESTION_NOTES,
    QUESTION_QUALITY,
    QUESTION_TRACE,
    QUESTION_VERDICT,
)
from alttrain.curation.review.push import CURATED_FILE
from alttrain.curation.review.votes import RecordOutcome, Review, decide
from alttrain.errors import ReviewError
from alttrain.layout import REJECTED_FILE, REVIEWED_FILE
from alttrain.layout import REVIEW_REPORT_FILE as REPORT_FILE
from alttrain.records import read_stage, write_stage
from alttrain.structure import StructureSpec

REVIEW_REASON_PREFIX = "review:"
PAGE_SIZE = 1000

REVIEW_COLUMNS: dict[str, pl.DataType] = {
    "review_status": pl.String(),  # accepted | rejected | unreviewed
    "review_votes": pl.Int64(),
    "review_accept_votes": pl.Int64(),
    "review_agreement": pl.Float64(),  # share of votes agreeing with the majority decision
    "review_verdict": pl.String(),  # the accepting reviewers' majority verdict
    "review_relabelled": pl.Boolean(),
    "review_quality": pl.Float64(),  # mean 1-5 rating
    "review_edit": pl.String(),  # applied | invalid | null
    "review_edit_violations": pl.String(),  # why edits were not used
    "review_notes": pl.String(),
    "pre_review_trace": pl.String(),  # the trace before an applied edit
    "filter_reason": pl.String(),
}


@dataclass(frozen=True)
class PullResult:
    """Where a pull wrote and what it counted (``report`` is what review_report.json holds)."""

    reviewed_path: Path
    rejected_path: Path
    report_path: Path
    report: dict[str, Any]


def fetch_reviews(client: rg.Argilla, dataset: rg.Dataset) -> dict[str, list[Review]]:
    """Read every record's submitted and discarded responses, keyed by the record's external id."""
    usernames = {user.id: user.username for user in client.users}
    reviews: dict[str, list[Review]] = {}
    offset = 0
    while True:
        page = client.api.records.list(
            dataset_id=dataset.id, offset=offset, limit=PAGE_SIZE, with_suggestions=False, with_responses=True
        )
        for record in page:
            responses = [(r, getattr(r.status, "value", r.status)) for r in record.responses or []]
            reviews[str(record.external_id)] = [
                _review(response.values or {}, status, usernames, response.user_id)
                for response, status in responses
                if status in {"submitted", "discarded"}
            ]
        if len(page) < PAGE_SIZE:
            return reviews
        offset += PAGE_SIZE


def _review(values: dict[str, Any], status: str, usernames: dict[Any, str], user_id: UUID | None) -> Review:
    """One response as a :class:`Review`."""

    def value(question: str) -> Any:
        return (values.get(question) or {}).get("value")

    return Review(
        reviewer=usernames.get(user_id, str(user_id)),
        discarded=status == "discarded",
        decision=value(QUESTION_DECISION),
        verdict=value(QUESTION_VERDICT),
        corrected_trace=value(QUESTION_TRACE),
        quality=value(QUESTION_QUALITY),
        notes=value(QUESTION_NOTES),
    )


def _reviewed_row(row: dict[str, Any], outcome: RecordOutcome, config: ReviewConfig) -> dict[str, Any]:
    """Return the row with its review columns, and with the applied edit (and new label) in place."""
    row = dict(row)
    invalid = "; ".join(f"{e.reviewer}: {', '.join(map(str, e.violations))}" for e in outcome.invalid_edits)
    row.update(
        review_status=outcome.outcome,
        review_votes=outcome.votes,
        review_accept_votes=outcome.accept_votes,
        review_agreement=outcome.agreement,
        review_verdict=outcome.verdict,
        review_relabelled=outcome.label is not None and outcome.label != row["label"],
        review_quality=outcome.quality,
        review_edit="applied" if outcome.applied_edit else ("invalid" if outcome.invalid_edits else None),
        review_edit_violations=invalid or None,
        review_notes=outcome.notes,
        pre_review_trace=None,
        filter_reason=None,
    )
    if outcome.applied_edit and outcome.applied_edit.fields:
        fields = outcome.applied_edit.fields
        row.update(
            pre_review_trace=row["trace"],
            trace=outcome.applied_edit.text,
            understanding=fields.understanding,
            assessment=fields.assessment,
            verdict=fields.verdict,
            reasoning=fields.reasoning,
            answer=fields.answer,
        )
    if outcome.label is not None:
        row["label"] = outcome.label
    if outcome.outcome == "rejected" or (outcome.outcome == "unreviewed" and config.unreviewed == "drop"):
        row["filter_reason"] = outcome.reason
    return row


def _frame(rows: list[dict[str, Any]], schema: pl.Schema) -> pl.DataFrame:
    """Rows back into a frame with the curated dtypes plus the review columns."""
    full = {**schema, **REVIEW_COLUMNS}
    return pl.DataFrame(rows, schema=full) if rows else pl.DataFrame(schema=full)


def _merge_rejected(path: Path, added: pl.DataFrame) -> pl.DataFrame:
    """Existing rejections minus this stage's earlier ones, plus ``added``."""
    if not path.exists():
        return added
    existing = pl.read_parquet(path)
    if "filter_reason" in existing.columns:
        existing = existing.filter(~pl.col("filter_reason").fill_null("").str.starts_with(REVIEW_REASON_PREFIX))
    return pl.concat([existing, added], how="diagonal_relaxed")


def _mean(values: list[float | None]) -> float | None:
    """Return the mean of the non-null values, rounded for the report (None when there are none)."""
    present = [v for v in values if v is not None]
    return round(sum(present) / len(present), 4) if present else None


def _report(
    outcomes: dict[str, RecordOutcome],
    reviews: dict[str, list[Review]],
    reviewed: pl.DataFrame,
    added: pl.DataFrame,
) -> dict[str, Any]:
    """Return the figures of a pull (the connection settings are added by the caller)."""
    done = [o for o in outcomes.values() if o.outcome != "unreviewed"]
    multi = [o for o in done if o.votes >= 2]
    invalid = [e for o in outcomes.values() for e in o.invalid_edits]
    ratings = [o.quality for o in done]
    return {
        "records": len(outcomes),
        "reviewed": len(done),
        "unreviewed": len(outcomes) - len(done),
        "not_in_argilla": sum(1 for rid in outcomes if rid not in reviews),
        "argilla_only": sum(1 for rid in reviews if rid not in outcomes),
        "outcomes": dict(Counter(o.outcome for o in outcomes.values())),
        "output": {"reviewed_rows": reviewed.height, "rejected_rows_added": added.height},
        "reasons": dict(Counter(added["filter_reason"].to_list())),
        "edits": {
            "applied": sum(1 for o in done if o.outcome == "accepted" and o.applied_edit),
            "invalid": len(invalid),
            "violations": dict(Counter(v.kind.value for e in invalid for v in e.violations)),
        },
        "relabelled": int(reviewed["review_relabelled"].fill_null(False).sum()),
        "verdict": {
            "confirmed": sum(1 for o in done if o.verdict_agrees is True),
            "corrected": sum(1 for o in done if o.verdict_agrees is False),
        },
        "agreement": {
            "multi_reviewed_records": len(multi),
            "unanimous": sum(1 for o in multi if o.agreement == 1.0),
            "mean_majority_share": _mean([o.agreement for o in multi]),
            "mean_pairwise": _mean([o.pairwise_agreement for o in multi]),
        },
        "reviewers": dict(Counter(r.reviewer for rid in outcomes for r in reviews.get(rid, []))),
        "quality": {"rated_records": sum(1 for q in ratings if q is not None), "mean": _mean(ratings)},
    }


def pull_reviews(config: ReviewConfig, spec: StructureSpec, run_dir: Path, run_name: str) -> PullResult:
    """Apply the reviews in Argilla to ``run_dir/curated.parquet`` and write the reviewed files.

    Raises:
        MissingInputError: when curation has not run.
        ReviewError: when Argilla is unreachable, the dataset was never pushed, or the ``fail`` policy
            meets unreviewed records (nothing is written then).

    """
    curated = read_stage(run_dir / CURATED_FILE, "synthesized")
    client = connect(config)
    name = config.dataset_name(run_name)
    dataset = find_dataset(client, config, name)
    if dataset is None:
        raise ReviewError(
            f"no Argilla dataset {name!r} in workspace {config.workspace!r}: run `alttrain review push` first"
        )
    reviews = fetch_reviews(client, dataset)
    rows = list(curated.iter_rows(named=True))
    outcomes = {
        row["id"]: decide(
            reviews.get(row["id"], []), row["label"], row["trace"], spec, config.min_reviewers, row["policy_mode"]
        )
        for row in rows
    }
    unreviewed = [rid for rid, o in outcomes.items() if o.outcome == "unreviewed"]
    if unreviewed and config.unreviewed == "fail":
        raise ReviewError(
            f"{len(unreviewed)} of {len(rows)} records have fewer than {config.min_reviewers} submitted "
            f"review(s) (first ids: {unreviewed[:5]}): finish the review, or set review.unreviewed to "
            "keep or drop"
        )
    out = _frame([_reviewed_row(row, outcomes[row["id"]], config) for row in rows], curated.schema)
    dropped = pl.col("filter_reason").is_not_null()
    reviewed, added = out.filter(~dropped), out.filter(dropped)
    if reviewed.height + added.height != len(rows):
        raise AssertionError("review rows do not add up")  # every row goes to exactly one file

    report = {
        "pulled_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "api_url": config.resolved_api_url(),
        "workspace": config.workspace,
        "dataset": name,
        "min_reviewers": config.min_reviewers,
        "unreviewed_policy": config.unreviewed,
        **_report(outcomes, reviews, reviewed, added),
    }
    reviewed_path, rejected_path, report_path = (
        run_dir / REVIEWED_FILE,
        run_dir / REJECTED_FILE,
        run_dir / REPORT_FILE,
    )
    write_stage(reviewed, reviewed_path, "synthesized")
    write_stage(_merge_rejected(rejected_path, added), rejected_path, "synthesized")
    report_path.write_text(json.dumps(report, indent=2, sort_keys=False, ensure_ascii=False) + "\n", encoding="utf-8")
    return PullResult(reviewed_path, rejected_path, report_path, report)
