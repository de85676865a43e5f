"""The squad scorer against torchmetrics' SQuAD (an independent implementation of the official script)."""

import pytest
from torchmetrics.functional.text import squad as torchmetrics_squad

from alttrain.evaluation.scorers.registry import SCORERS
from alttrain.evaluation.scorers.squad import exact_match, f1, normalize_answer, short_answer

REFERENCES = ["14 December 1972 UTC", "December 1972"]
# (final answer, the short answer the scorer reads)
OUTPUTS = [
    ("December 1972", "December 1972"),
    ("The answer is \\boxed{December 1972}.", "December 1972"),
    ("**Answer:** the 14th of December, 1972", "the 14th of December, 1972"),
    ("December 1972.\nApollo 17 was the last crewed landing on the Moon.", "December 1972."),
    ("July 1969", "July 1969"),
    ("答案：December 1972", "December 1972"),
    ("A+", "A+"),
]
# NQ-open references that normalize to nothing, with answers a model might give
EMPTY_REFERENCES = [("A+", ["A+"]), ("The A.", ["A+"]), ("B+", ["A+"]), ("dash", ["---"]), ("---", ["---", "dash"])]


def reference_scores(prediction: str, references: list[str]) -> tuple[bool, float]:
    """torchmetrics' exact match and F1 (percentages) for one prediction, as 0/1 and a fraction."""
    result = torchmetrics_squad(
        {"prediction_text": prediction, "id": "0"},
        {"answers": {"answer_start": [0] * len(references), "text": references}, "id": "0"},
    )
    return bool(result["exact_match"] == 100.0), float(result["f1"]) / 100.0


@pytest.mark.parametrize(("answer", "short"), OUTPUTS)
def test_scores_equal_torchmetrics_on_the_short_answer(answer: str, short: str) -> None:
    score = SCORERS["squad"].score(answer, REFERENCES)
    assert score.extracted == short
    correct, graded = reference_scores(short, REFERENCES)
    assert score.correct is correct
    assert score.score == pytest.approx(graded, abs=1e-6)


@pytest.mark.parametrize(("answer", "references"), EMPTY_REFERENCES)
def test_strings_that_normalize_to_nothing_score_as_torchmetrics(answer: str, references: list[str]) -> None:
    score = SCORERS["squad"].score(answer, references)
    correct, graded = reference_scores(answer, references)
    assert score.correct is correct and score.score == pytest.approx(graded, abs=1e-6)


def test_the_official_normalization_and_token_f1() -> None:
    assert normalize_answer("The  Quick, Brown fox!") == "quick brown fox"
    assert normalize_answer("an Apple a day") == "apple day"
    assert f1("the cat sat", "a cat sat down") == pytest.approx(2 * (2 / 2) * (2 / 3) / (2 / 2 + 2 / 3))
    assert f1("", "anything") == 0.0
    assert f1("A+", "A+") == 1.0 and exact_match("A+", "A+")  # v1.1 would give F1 0: both normalize to nothing
    assert f1("A+", "B+") == 0.0 and f1("", "---") == 1.0


def test_a_cut_off_answer_without_a_final_answer_is_wrong() -> None:
    score = SCORERS["squad"].score("", REFERENCES)
    assert (score.correct, score.score, score.extracted) == (False, 0.0, None)
    assert SCORERS["squad"].score("  ", ["A+"]).correct is False  # though "" and "A+" both normalize to nothing
    assert short_answer("\n  \n") == ""


def test_the_best_reference_counts() -> None:
    score = SCORERS["squad"].score("Bob Russell", ["Bobby Scott", "Bob Russell"])
    assert score.correct is True and score.score == 1.0
    partial = SCORERS["squad"].score("Russell", ["Bobby Scott", "Bob Russell"])
    assert partial.correct is False and partial.score == pytest.approx(2 / 3)
