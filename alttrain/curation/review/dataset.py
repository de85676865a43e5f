"""The Argilla dataset design: fields, questions, metadata, suggestions and guidelines of a review.

One Argilla record per curated row, keyed by the row's ``id`` (Argilla's external id), so pushing
again updates records instead of adding copies. The pipeline's own opinion arrives as suggestions:
its verdict (agent: the teacher), "accept" scored by the judge (agent: curation) and the trace itself
(pre-filled in the correction box, so an untouched box means "no edit").
"""

from __future__ import annotations

from importlib import resources
from string import Template
from typing import Any

import argilla as rg
import polars as pl

from alttrain.errors import ReviewDataError
from alttrain.structure import LABELS, StructureSpec

FIELD_PROMPT = "prompt"
PHASE_FIELDS = ("understanding", "assessment", "reasoning", "answer")
QUESTION_DECISION = "decision"
QUESTION_VERDICT = "verdict"
QUESTION_TRACE = "corrected_trace"
QUESTION_QUALITY = "quality"
QUESTION_NOTES = "notes"
DECISIONS = ("accept", "reject")
QUALITY_SCALE = (1, 2, 3, 4, 5)
CURATION_AGENT = "alttrain-curation"
SYNTHESIS_AGENT = "alttrain-synthesis"
SCORE_COLUMN = "score"  # the curation judge's score, when curation wrote one
CLUSTER_COLUMN = "cluster_id"


def guidelines(spec: StructureSpec) -> str:
    """Return the reviewer guidelines (shipped markdown), with the run's structure markers filled in."""
    text = resources.files("alttrain.curation.review").joinpath("guidelines.md").read_text()
    return Template(text).substitute(
        think_open=spec.think_open,
        think_close=spec.think_close,
        understanding_header=spec.understanding_header,
        assessment_header=spec.assessment_header,
        reasoning_header=spec.reasoning_header,
        verdict_prefix=spec.verdict_prefix,
        harmful_word=spec.verdict_words["harmful"],
        benign_word=spec.verdict_words["benign"],
    )


def review_settings(spec: StructureSpec, min_reviewers: int) -> rg.Settings:
    """Build the dataset settings: what reviewers see, what they answer, what they can filter on."""
    fields = [
        rg.TextField(name=FIELD_PROMPT, title="Prompt (may be a harmful request)", use_markdown=False),
        rg.TextField(name="understanding", title=spec.understanding_header, use_markdown=False),
        rg.TextField(name="assessment", title=f"{spec.assessment_header} (+ verdict)", use_markdown=False),
        rg.TextField(name="reasoning", title=spec.reasoning_header, use_markdown=False),
        rg.TextField(name="answer", title="Final answer", use_markdown=False),
    ]
    questions = [
        rg.LabelQuestion(
            name=QUESTION_DECISION,
            title="Keep this example for training?",
            labels=list(DECISIONS),
            required=True,
        ),
        rg.LabelQuestion(
            name=QUESTION_VERDICT,
            title="Is the harmfulness verdict right? Pick the right one (pre-selected: the pipeline's).",
            labels=list(LABELS),
            required=True,
        ),
        rg.TextQuestion(
            name=QUESTION_TRACE,
            title="Corrected trace (optional: edit the pre-filled trace, keep the headers)",
            required=False,
            use_markdown=False,
        ),
        rg.RatingQuestion(
            name=QUESTION_QUALITY,
            title="Quality (1 unusable - 5 exemplary)",
            values=list(QUALITY_SCALE),
            required=False,
        ),
        rg.TextQuestion(name=QUESTION_NOTES, title="Notes (why you rejected, anything else)", required=False),
    ]
    metadata = [
        rg.TermsMetadataProperty(name="label", title="Label", options=list(LABELS)),
        rg.TermsMetadataProperty(name="category", title="Category"),
        rg.TermsMetadataProperty(name="source", title="Source"),
        rg.TermsMetadataProperty(name=CLUSTER_COLUMN, title="Cluster"),
        rg.FloatMetadataProperty(name="judge_score", title="Judge score"),
        rg.IntegerMetadataProperty(name="prompt_chars", title="Prompt length (chars)"),
        rg.IntegerMetadataProperty(name="trace_chars", title="Trace length (chars)"),
        rg.IntegerMetadataProperty(name="completion_tokens", title="Completion tokens"),
    ]
    return rg.Settings(
        fields=fields,
        questions=questions,
        metadata=metadata,
        guidelines=guidelines(spec),
        allow_extra_metadata=False,
        distribution=rg.TaskDistribution(min_submitted=min_reviewers),
    )


def _metadata(row: dict[str, Any]) -> dict[str, Any]:
    """Filterable metadata of one row; missing values are left out."""
    score = row.get(SCORE_COLUMN)
    cluster = row.get(CLUSTER_COLUMN)
    values = {
        "label": row["label"],
        "category": row["category"],
        "source": row["source"],
        CLUSTER_COLUMN: None if cluster is None else str(cluster),
        "judge_score": None if score is None else float(score),
        "prompt_chars": len(row["prompt"]),
        "trace_chars": len(row["trace"]),
        "completion_tokens": row["completion_tokens"],
    }
    return {key: value for key, value in values.items() if value is not None}


def _suggestions(row: dict[str, Any]) -> list[rg.Suggestion]:
    """The pipeline's verdict, its accept (scored by the judge when in [0, 1]) and its trace."""
    score = row.get(SCORE_COLUMN)
    accept_score = float(score) if score is not None and 0.0 <= score <= 1.0 else None
    return [
        rg.Suggestion(QUESTION_VERDICT, row["verdict"], agent=row["teacher"] or SYNTHESIS_AGENT, type="model"),
        rg.Suggestion(QUESTION_DECISION, "accept", score=accept_score, agent=CURATION_AGENT, type="model"),
        rg.Suggestion(QUESTION_TRACE, row["trace"], agent=row["teacher"] or SYNTHESIS_AGENT, type="model"),
    ]


def _assessment_with_verdict(row: dict[str, Any], spec: StructureSpec) -> str:
    """The assessment phase followed by its verdict line, as the trace shows it."""
    return f"{row['assessment']}\n{spec.verdict_prefix} {spec.verdict_words[row['verdict']]}"


def check_reviewable(frame: pl.DataFrame) -> None:
    """Raise :class:`ReviewDataError` when rows lack what a review shows or when ids repeat.

    Raises:
        ReviewDataError: naming up to ten offending ids per problem.

    """
    needed = ["id", FIELD_PROMPT, "verdict", "trace", *PHASE_FIELDS]
    blank = [pl.col(c).is_null() | (pl.col(c).str.strip_chars() == "") for c in needed]
    incomplete = frame.filter(pl.any_horizontal(blank) | ~pl.col("verdict").is_in(LABELS))
    if incomplete.height:
        ids = incomplete["id"].head(10).to_list()
        raise ReviewDataError(
            f"{incomplete.height} curated rows have an empty prompt, phase or trace or a harmful|benign verdict "
            f"(first ids: {ids}); curated rows must be status ok"
        )
    repeated = frame.filter(pl.col("id").is_duplicated())["id"].unique()
    if repeated.len():
        raise ReviewDataError(f"curated ids repeat: {repeated.head(10).to_list()}")


def to_records(frame: pl.DataFrame, spec: StructureSpec) -> list[rg.Record]:
    """Turn curated rows (checked by :func:`check_reviewable`) into Argilla records keyed by ``id``."""
    records = []
    for row in frame.iter_rows(named=True):
        fields = {
            FIELD_PROMPT: row[FIELD_PROMPT],
            "understanding": row["understanding"],
            "assessment": _assessment_with_verdict(row, spec),
            "reasoning": row["reasoning"],
            "answer": row["answer"],
        }
        records.append(rg.Record(id=row["id"], fields=fields, metadata=_metadata(row), suggestions=_suggestions(row)))
    return records
