from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from alttrain.curation.filters.base import DROP, FilterContext
from alttrain.curation.filters.consistency import RefusalFilter, VerdictFilter
from alttrain.prompt_sets.base import package_data
from alttrain.refusal import looks_like_refusal, refusal_heuristic
from alttrain.structure import TraceFields
from curation.rows import BENIGN_FIELDS, HARMFUL_FIELDS, frame, row


def reasons(result: pl.DataFrame) -> dict[str, str | None]:
    return dict(result.select("prompt", DROP).iter_rows())


def test_verdict_must_name_the_label(context: FilterContext) -> None:
    rows = [
        row("benign kept"),
        row("harmful kept", "harmful"),
        row("benign with harmful verdict", fields=TraceFields(**{**BENIGN_FIELDS.__dict__, "verdict": "harmful"})),
        row("harmful with benign verdict", "harmful", fields=BENIGN_FIELDS),
    ]
    assert reasons(VerdictFilter().apply(frame(rows), context)) == {
        "benign kept": None,
        "harmful kept": None,
        "benign with harmful verdict": "verdict_mismatch",
        "harmful with benign verdict": "verdict_mismatch",
    }


def test_refusal_iff_harmful(context: FilterContext) -> None:
    rows = [
        row("benign answered"),
        row("harmful refused", "harmful"),
        row("benign refused", fields=TraceFields(**{**BENIGN_FIELDS.__dict__, "answer": "I'm sorry, I can't help."})),
        row("harmful answered", "harmful", fields=TraceFields(**{**HARMFUL_FIELDS.__dict__, "answer": "Sure: 42."})),
    ]
    result = RefusalFilter().apply(frame(rows), context)
    assert reasons(result) == {
        "benign answered": None,
        "harmful refused": None,
        "benign refused": "refusal_when_benign",
        "harmful answered": "no_refusal_when_harmful",
    }
    assert dict(result.select("prompt", "refused").iter_rows())["harmful refused"] is True


def test_a_judge_decision_overrides_the_heuristic_where_present(context: FilterContext) -> None:
    rows = [row("judge says refused", judge_refused=True), row("judge silent", judge_refused=None)]
    data = frame(rows).with_columns(pl.col("judge_refused").cast(pl.Boolean))
    assert reasons(RefusalFilter().apply(data, context)) == {
        "judge says refused": "refusal_when_benign",
        "judge silent": None,
    }


def test_the_vectorised_heuristic_agrees_with_looks_like_refusal_on_pyrits_labelled_refusals() -> None:
    path = package_data("pyrit", "datasets", "scorer_evals", "refusal_scorer", "refusal.csv")
    texts = pl.read_csv(path, comment_prefix="#", infer_schema_length=0)["assistant_response"].drop_nulls().to_list()
    assert len(texts) > 50
    vectorised = pl.DataFrame({"answer": texts}).select(refusal_heuristic())["answer"].to_list()
    assert vectorised == [looks_like_refusal(t) for t in texts]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(["I can't help", "I\u2019m sorry", "Sure", "x" * 390, " ", "As an AI", "won't assist", "é"]),
        max_size=6,
    ).map("".join)
)
def test_the_vectorised_heuristic_keeps_the_400_character_window(text: str) -> None:
    vectorised = pl.DataFrame({"answer": [text]}).select(refusal_heuristic()).item()
    assert vectorised == looks_like_refusal(text)
