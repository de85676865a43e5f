from __future__ import annotations

import polars as pl

from alttrain.curation.filters.answer import AnswerFilter
from alttrain.curation.filters.base import DROP, FilterContext
from alttrain.prompt_sets.builtin import ReasoningGymSource
from alttrain.structure import TraceFields
from curation.rows import BENIGN_FIELDS, frame, row


def answering(text: str) -> TraceFields:
    return TraceFields(**{**BENIGN_FIELDS.__dict__, "answer": text})


def results(rows: list[dict], context: FilterContext) -> dict[str, tuple]:
    out = AnswerFilter().apply(frame(rows), context)
    return {r["prompt"]: (r[DROP], r["answer_correct"], r["answer_check"]) for r in out.iter_rows(named=True)}


def test_reasoning_gym_rows_are_scored_by_the_tasks_verifier(context: FilterContext) -> None:
    problems = ReasoningGymSource(size=3, seed=1).load().to_dicts()
    rows = []
    for index, problem in enumerate(problems):
        answer = problem["reference_answer"] if index < 2 else str(int(float(problem["reference_answer"])) + 1)
        rows.append(
            row(problem["prompt"], fields=answering(f"So the total is {answer}."), source=problem["source"],
                reference_answer=problem["reference_answer"])
        )
    got = results(rows, context)
    check = "reasoning_gym:gsm_symbolic"
    assert [got[p["prompt"]] for p in problems] == [
        (None, True, check), (None, True, check), ("answer:incorrect", False, check)
    ]


def test_numeric_and_text_references_elsewhere(context: FilterContext) -> None:
    rows = [
        row("last number wins", fields=answering("From 3 and 4 we get 1,234."), reference_answer="1234"),
        row("wrong number", fields=answering("It is 12, not 13."), reference_answer="12"),
        row("decimal equal", fields=answering("About 2.50 metres."), reference_answer="2.5"),
        row("text found", fields=answering("The capital is  Paris, France."), reference_answer="paris"),
        row("text missing", fields=answering("The capital is Lyon."), reference_answer="Paris"),
        row("no reference", fields=answering("Anything.")),
        row("harmful unchecked", "harmful", reference_answer="42"),
        row("unknown task", fields=answering("It is 5."), source="reasoning_gym/no_such_task", reference_answer="5"),
    ]
    assert results(rows, context) == {
        "last number wins": (None, True, "numeric"),
        "wrong number": ("answer:incorrect", False, "numeric"),
        "decimal equal": (None, True, "numeric"),
        "text found": (None, True, "text"),
        "text missing": ("answer:incorrect", False, "text"),
        "no reference": (None, None, None),
        "harmful unchecked": (None, None, None),
        "unknown task": (None, True, "numeric"),
    }


def test_duplicate_answers_share_one_verdict_and_no_row_is_lost(context: FilterContext) -> None:
    problem = ReasoningGymSource(size=1, seed=2).load().to_dicts()[0]
    rows = [
        row(problem["prompt"], fields=answering(f"It is {problem['reference_answer']}."), source=problem["source"],
            reference_answer=problem["reference_answer"], id=f"id{i}")
        for i in range(50)
    ]
    out = AnswerFilter().apply(frame(rows), context)
    assert out.height == 50
    assert out.filter(pl.col("answer_correct"))["id"].n_unique() == 50
