"""Turn the reviews of one record into one outcome: majority decision, verdict check, edits re-validated.

Rules (the shipped guidelines tell reviewers the same):

- A review is a *submitted* response or a *discarded* one (a discard is a vote to reject). Drafts do
  not count. A record with fewer reviews than ``min_reviewers`` is *unreviewed*.
- Decision: the majority of accept/reject votes; a tie is no majority and the record is rejected
  (``review:no_majority``). ``agreement`` is the share of votes that agree with the majority.
- Verdict: the majority verdict of the reviewers who accepted. When it differs from the record's label,
  the record is kept only with a valid corrected trace for the reviewers' verdict (then relabelled),
  otherwise rejected (``review:verdict_wrong``).
- Edits (a corrected trace that differs from the trace, from reviewers who accepted, in username order)
  are parsed and validated with the shared :class:`StructureSpec`. The first valid one replaces the
  trace; an invalid one is never used: the original trace stays and the edit's violations are recorded.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

from alttrain.structure import Label, StructureSpec, TraceFields, Violation

Outcome = Literal["accepted", "rejected", "unreviewed"]
REASON_REJECTED = "review:rejected"
REASON_NO_MAJORITY = "review:no_majority"
REASON_VERDICT_WRONG = "review:verdict_wrong"
REASON_UNREVIEWED = "review:unreviewed"


@dataclass(frozen=True)
class Review:
    """One reviewer's answers on one record."""

    reviewer: str
    discarded: bool = False
    decision: str | None = None  # accept | reject
    verdict: Label | None = None
    corrected_trace: str | None = None
    quality: int | None = None
    notes: str | None = None

    @property
    def accepts(self) -> bool:
        """Tell whether this review votes to keep the record."""
        return not self.discarded and self.decision == "accept"


@dataclass(frozen=True)
class EditCheck:
    """A corrected trace and what the validator said (``text`` is re-rendered from ``fields`` when valid)."""

    reviewer: str
    text: str
    violations: list[Violation]
    fields: TraceFields | None = None


@dataclass(frozen=True)
class RecordOutcome:
    """What review decided for one record, and the figures the report and output columns need."""

    outcome: Outcome
    reason: str | None = None
    votes: int = 0
    accept_votes: int = 0
    agreement: float | None = None
    pairwise_agreement: float | None = None
    verdict: Label | None = None
    verdict_agrees: bool | None = None  # the reviewers' verdict equals the record's label
    label: Label | None = None  # the label to keep (the reviewers' verdict when relabelled)
    applied_edit: EditCheck | None = None
    invalid_edits: list[EditCheck] = field(default_factory=list)
    quality: float | None = None
    notes: str | None = None


def _majority(values: list[str]) -> tuple[str | None, float]:
    """Return the strict-majority value (None on a tie) and the share of values that agree with it."""
    counts = Counter(values).most_common()
    if not counts:
        return None, 0.0
    top, top_count = counts[0]
    tied = len(counts) > 1 and counts[1][1] == top_count
    return (None if tied else top), top_count / len(values)


def _pairwise(values: list[str]) -> float | None:
    """Return the share of reviewer pairs that agree (None with fewer than two values)."""
    n = len(values)
    if n < 2:
        return None
    agreeing = sum(c * (c - 1) // 2 for c in Counter(values).values())
    return agreeing / (n * (n - 1) // 2)


def _check_edit(review: Review, label: Label, spec: StructureSpec, mode: str | None) -> EditCheck:
    """Validate one corrected trace against ``label`` (and the row's policy ``mode``) with the shared structure spec."""
    text = (review.corrected_trace or "").strip()
    language = spec.language_of(text)  # the markers the reviewer wrote in
    violations = spec.validate(text, label, mode, language)
    if violations:
        return EditCheck(review.reviewer, text, violations)
    fields = spec.parse(text, language)
    return EditCheck(review.reviewer, spec.render(fields, language), violations, fields)  # canonical, as trained on


def decide(
    reviews: list[Review], label: Label, trace: str, spec: StructureSpec, min_reviewers: int, mode: str | None = None
) -> RecordOutcome:
    """Apply the review rules (see the module docstring) to one record's reviews; ``mode``: the row's policy mode."""
    reviews = sorted(reviews, key=lambda r: r.reviewer)
    if len(reviews) < min_reviewers or not reviews:
        return RecordOutcome("unreviewed", REASON_UNREVIEWED, votes=len(reviews))
    decisions = ["accept" if r.accepts else "reject" for r in reviews]
    decision, agreement = _majority(decisions)
    ratings = [r.quality for r in reviews if r.quality is not None]
    notes = " | ".join(f"{r.reviewer}: {r.notes.strip()}" for r in reviews if r.notes and r.notes.strip())
    common = {
        "votes": len(reviews),
        "accept_votes": decisions.count("accept"),
        "agreement": agreement,
        "pairwise_agreement": _pairwise(decisions),
        "quality": sum(ratings) / len(ratings) if ratings else None,
        "notes": notes or None,
    }
    if decision != "accept":
        return RecordOutcome("rejected", REASON_REJECTED if decision else REASON_NO_MAJORITY, **common)

    accepting = [r for r in reviews if r.accepts]
    verdict, _share = _majority([r.verdict for r in accepting if r.verdict is not None])
    if verdict is None:
        return RecordOutcome("rejected", REASON_NO_MAJORITY, **common)
    target: Label = verdict  # type: ignore[assignment]
    edits = [_check_edit(r, target, spec, mode if target == label else None) for r in accepting if _is_edit(r, trace)]
    valid = next((e for e in edits if not e.violations), None)
    invalid = [e for e in edits if e.violations]
    if target != label and valid is None:
        return RecordOutcome(
            "rejected", REASON_VERDICT_WRONG, verdict=target, verdict_agrees=False, invalid_edits=invalid, **common
        )
    return RecordOutcome(
        "accepted",
        None,
        verdict=target,
        verdict_agrees=target == label,
        label=target,
        applied_edit=valid,
        invalid_edits=invalid,
        **common,
    )


def _is_edit(review: Review, trace: str) -> bool:
    """Tell whether a review's corrected trace differs from the trace it was shown (whitespace aside)."""
    text = review.corrected_trace
    return bool(text and text.strip()) and " ".join(text.split()) != " ".join(trace.split())
