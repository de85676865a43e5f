from __future__ import annotations

from dataclasses import replace

import polars as pl

from alttrain.curation.config import CurationConfig
from alttrain.curation.filters.base import DROP, FilterContext
from alttrain.curation.filters.consistency import RefusalFilter
from alttrain.curation.filters.mode import ModeFilter
from curation.rows import BENIGN_FIELDS, HARMFUL_FIELDS, frame, row

SUPPORT = replace(
    HARMFUL_FIELDS,
    answer="I'm so sorry you are going through this. You deserve support now: a crisis line such as 988 can help.",
)
BARE = replace(HARMFUL_FIELDS, answer="Sorry, I cannot assist with this request.")
HELPING = replace(HARMFUL_FIELDS, answer="Here is a general overview of the topic, as asked.")


def reasons(result: pl.DataFrame) -> dict[str, str | None]:
    return dict(result.select("prompt", DROP).iter_rows())


def test_answers_are_checked_against_their_policy_mode(context: FilterContext) -> None:
    rows = [
        row("supportive safe completion", "harmful", fields=SUPPORT, policy_mode="safe_complete"),
        row("bare refusal where support was due", "harmful", fields=BARE, policy_mode="safe_complete"),
        row("refusal as the mode asks", "harmful", fields=BARE, policy_mode="refuse"),
        row("compliance where a refusal was due", "harmful", fields=HELPING, policy_mode="refuse"),
        row("benign answer", fields=BENIGN_FIELDS, policy_mode="comply"),
        row("benign refusal", fields=BARE, policy_mode="comply"),
        row("no mode recorded", "harmful", fields=HELPING, policy_mode=None),
    ]
    assert reasons(ModeFilter().apply(frame(rows), context)) == {
        "supportive safe completion": None,
        "bare refusal where support was due": "mode:safe_complete_refused",
        "refusal as the mode asks": None,
        "compliance where a refusal was due": "mode:refuse_complied",
        "benign answer": None,
        "benign refusal": "mode:comply_refused",
        "no mode recorded": None,
    }


def test_a_judges_refusal_decision_wins(context: FilterContext) -> None:
    rows = [row("judge says refused", "harmful", fields=SUPPORT, policy_mode="safe_complete", judge_refused=True)]
    assert reasons(ModeFilter().apply(frame(rows), context)) == {"judge says refused": "mode:safe_complete_refused"}


def test_the_refusal_filter_asks_a_refusal_only_of_refuse_rows(context: FilterContext) -> None:
    rows = [
        row("safe completion", "harmful", fields=SUPPORT, policy_mode="safe_complete"),
        row("refuse row that helps", "harmful", fields=HELPING, policy_mode="refuse"),
        row("row without a mode that helps", "harmful", fields=HELPING),
    ]
    assert reasons(RefusalFilter().apply(frame(rows), context)) == {
        "safe completion": None,
        "refuse row that helps": "no_refusal_when_harmful",
        "row without a mode that helps": "no_refusal_when_harmful",
    }


def test_the_mode_filter_runs_by_default_after_the_refusal_filter() -> None:
    names = [f.name for f in CurationConfig().filters]
    assert names.index("mode") == names.index("refusal") + 1
