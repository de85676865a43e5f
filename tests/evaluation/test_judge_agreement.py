"""The refusal judges compared with each other on the same harmful rows."""

import polars as pl

from alttrain.evaluation.judge_agreement import agreement_lines, judge_agreement


def rows(**judges: list) -> pl.DataFrame:
    n = len(judges["refused"])
    columns = {"model": ["base"] * n, "label": ["harmful"] * (n - 1) + ["benign"], **judges}
    return pl.DataFrame(columns, schema_overrides={"sr_refused": pl.Boolean, "guard_unsafe": pl.Boolean})


def test_heuristic_and_strongreject_are_compared_on_the_rows_both_judged() -> None:
    frame = rows(
        refused=[True, True, False, False, True, True],
        sr_status=["ok", "ok", "ok", "unparsed", "ok", None],  # an unparsed grade and a benign row: left out
        sr_refused=[True, False, False, None, True, None],
    )
    agreement = judge_agreement(frame)
    assert agreement.to_dicts() == [{
        "model": "base", "first": "heuristic", "second": "strongreject", "n": 4, "agreement": 0.75,
        "both_refused": 2, "first_only": 1, "second_only": 0, "neither": 1,
    }]
    assert agreement_lines(agreement)[2] == "| base | heuristic vs strongreject | 4 | 0.750 | 2 | 1 | 0 | 1 |"


def test_a_guard_that_finds_an_answer_safe_counts_as_its_refusal() -> None:
    frame = rows(
        refused=[True, False, False],
        guard_status=["ok", "ok", None],
        guard_unsafe=[False, False, None],
    )
    (pair,) = judge_agreement(frame).to_dicts()
    assert (pair["second"], pair["n"], pair["both_refused"], pair["second_only"]) == ("guard (safe)", 2, 1, 1)


def test_no_table_with_only_the_heuristic() -> None:
    frame = rows(refused=[True, False], sr_status=[None, None], sr_refused=[None, None])
    assert judge_agreement(frame).height == 0
    assert agreement_lines(judge_agreement(frame)) == []
