from __future__ import annotations

from alttrain.curation.review.votes import Review, decide
from alttrain.structure import TraceFields, ViolationKind
from curation.review.review_helpers import REFUSAL, SPEC

HARMFUL_TRACE = SPEC.render(
    TraceFields("A request.", "It could hurt people.", "harmful", "I will not help; safe help exists.", REFUSAL)
)


def _benign(reasoning: str, answer: str = "The answer is 7.") -> str:
    return SPEC.render(TraceFields("A sum.", "Arithmetic harms nobody.", "benign", reasoning, answer))


def test_too_few_reviews_is_unreviewed() -> None:
    one = [Review("ann", decision="accept", verdict="harmful")]

    assert decide([], "harmful", HARMFUL_TRACE, SPEC, 1).outcome == "unreviewed"
    outcome = decide(one, "harmful", HARMFUL_TRACE, SPEC, 2)
    assert (outcome.outcome, outcome.reason, outcome.votes) == ("unreviewed", "review:unreviewed", 1)


def test_majority_tie_and_discard_votes() -> None:
    accept = Review("ann", decision="accept", verdict="harmful")
    reject = Review("bob", decision="reject", verdict="harmful")
    discard = Review("cat", discarded=True)

    tie = decide([accept, reject], "harmful", HARMFUL_TRACE, SPEC, 1)
    lost = decide([accept, reject, discard], "harmful", HARMFUL_TRACE, SPEC, 1)
    won = decide(
        [accept, Review("dan", decision="accept", verdict="harmful"), discard], "harmful", HARMFUL_TRACE, SPEC, 1
    )

    assert (tie.outcome, tie.reason, tie.agreement, tie.pairwise_agreement) == (
        "rejected",
        "review:no_majority",
        0.5,
        0.0,
    )
    assert (lost.outcome, lost.reason, lost.accept_votes) == ("rejected", "review:rejected", 1)
    assert (won.outcome, won.verdict_agrees) == ("accepted", True)
    assert won.agreement == 2 / 3 and won.pairwise_agreement == 1 / 3


def test_wrong_verdict_needs_a_valid_trace_for_the_new_verdict() -> None:
    says_benign = Review("ann", decision="accept", verdict="benign")
    with_trace = Review("ann", decision="accept", verdict="benign", corrected_trace=_benign("Explain the facts."))

    rejected = decide([says_benign], "harmful", HARMFUL_TRACE, SPEC, 1)
    relabelled = decide([with_trace], "harmful", HARMFUL_TRACE, SPEC, 1)

    assert (rejected.outcome, rejected.reason, rejected.verdict_agrees) == ("rejected", "review:verdict_wrong", False)
    assert (relabelled.outcome, relabelled.label, relabelled.applied_edit.fields.verdict) == (
        "accepted",
        "benign",
        "benign",
    )


def test_invalid_edit_keeps_the_original_and_reports_why() -> None:
    trace = _benign("3 + 4 = 7.")
    broken = trace.replace("Verdict: benign\n", "")
    refusing = _benign("3 + 4 = 7.", REFUSAL)
    same = "  " + trace.replace("\n", "\n ")  # whitespace only: not an edit
    reviews = [
        Review("ann", decision="accept", verdict="benign", corrected_trace=broken),
        Review("bob", decision="accept", verdict="benign", corrected_trace=refusing),
        Review("cat", decision="accept", verdict="benign", corrected_trace=same),
    ]

    outcome = decide(reviews, "benign", trace, SPEC, 1)

    assert outcome.outcome == "accepted" and outcome.applied_edit is None
    kinds = {e.reviewer: [v.kind for v in e.violations] for e in outcome.invalid_edits}
    assert kinds == {"ann": [ViolationKind.NO_VERDICT], "bob": [ViolationKind.REFUSAL_WHEN_BENIGN]}


def test_first_valid_edit_in_reviewer_order_wins_and_rejecters_edits_are_ignored() -> None:
    trace = _benign("3 + 4 = 7.")
    reviews = [
        Review("zed", decision="accept", verdict="benign", corrected_trace=_benign("Second reviewer's fix.")),
        Review("amy", decision="accept", verdict="benign", corrected_trace=_benign("First reviewer's fix.")),
        Review("bob", decision="reject", verdict="benign", corrected_trace=_benign("A rejecter's fix.")),
    ]

    outcome = decide(reviews, "benign", trace, SPEC, 1)

    assert outcome.applied_edit.reviewer == "amy" and outcome.applied_edit.fields.reasoning == "First reviewer's fix."
    assert outcome.invalid_edits == []


def test_quality_and_notes_are_aggregated() -> None:
    reviews = [
        Review("ann", decision="accept", verdict="harmful", quality=5, notes=" good "),
        Review("bob", decision="accept", verdict="harmful", quality=2),
    ]

    outcome = decide(reviews, "harmful", HARMFUL_TRACE, SPEC, 1)

    assert (outcome.quality, outcome.notes) == (3.5, "ann: good")


def test_edits_are_checked_against_the_rows_policy_mode() -> None:
    support = "You deserve support right now: a crisis line such as 988 can listen at any hour."
    supportive = SPEC.render(TraceFields("A request.", "It touches on self-harm.", "harmful", "Help safely.", support))
    refusing = HARMFUL_TRACE.replace("A request.", "Ask.")
    reviews = [
        Review("amy", decision="accept", verdict="harmful", corrected_trace=refusing),
        Review("bob", decision="accept", verdict="harmful", corrected_trace=supportive),
    ]
    safe = decide(reviews, "harmful", supportive.replace("Help safely.", "Help."), SPEC, 1, "safe_complete")
    assert safe.applied_edit.reviewer == "bob"
    kinds = {e.reviewer: [v.kind for v in e.violations] for e in safe.invalid_edits}
    assert kinds == {"amy": [ViolationKind.REFUSAL_WHEN_SAFE_COMPLETE]}
    refuse = decide(reviews, "harmful", HARMFUL_TRACE, SPEC, 1, "refuse")
    assert refuse.applied_edit.reviewer == "amy"
    assert {e.reviewer: [v.kind for v in e.violations] for e in refuse.invalid_edits} == {
        "bob": [ViolationKind.NO_REFUSAL_WHEN_HARMFUL]
    }
