import polars as pl
import pytest

from alttrain.errors import BenchmarkError
from alttrain.evaluation.scorers.apply import apply_scorers


def rows(scorers: list[str | None], answers: list[str], references: list[list[str] | None]) -> pl.DataFrame:
    return pl.DataFrame(
        {"scorer": scorers, "answer": answers, "references": references,
         "answer_correct": [True] * len(scorers), "answer_check": ["numeric"] * len(scorers)},
        schema_overrides={"scorer": pl.String, "references": pl.List(pl.String)},
    )


def test_rows_without_a_scorer_keep_the_generic_check_and_scored_rows_are_graded() -> None:
    scored = apply_scorers(rows([None, "squad", "rouge_l"], ["42", "Paris", "the cat sat"],
                                [None, ["Paris", "paris, france"], ["a cat sat down"]]))
    assert scored["answer_correct"].to_list() == [True, True, None]  # ROUGE grades only
    assert scored["answer_check"].to_list() == ["numeric", "scorer:squad", "scorer:rouge_l"]
    assert scored["score"][0] is None and scored["score"][1] == 1.0 and 0.0 < scored["score"][2] < 1.0
    assert scored["extracted_answer"].to_list()[0] is None


def test_an_unknown_scorer_or_an_item_without_references_is_a_clear_error() -> None:
    with pytest.raises(BenchmarkError, match="unknown scorer 'bleu'; registered: letter, math"):
        apply_scorers(rows(["bleu"], ["x"], [["x"]]))
    with pytest.raises(BenchmarkError, match="an item scored by 'squad' has no references"):
        apply_scorers(rows(["squad"], ["x"], [[]]))
