"""The squad scorer against torchmetrics' SQuAD (an independent implementation of the official script)."""

import pytest
from torchmetrics.functional.text import squad as torchmetrics_squad

from alttrain.evaluation.scorers.registry import SCORERS
from alttrain.evaluation.scorers.squad import f1, normalize_answer, short_answer

REFERENCES = ["14 December 1972 UTC", "December 1972"]
# (final answer, the short answer the scorer reads)
OUTPUTS = [
    ("December 1972", "December 1972"),
    ("The answer is \\boxed{December 1972}.", "December 1972"),
    ("**Answer:** the 14th of December, 1972", "the 14th of December, 1972"),
    ("December 1972.\nApollo 17 was the last crewed landing on the Moon.", "December 1972."),
    ("July 1969", "July 1969"),
    ("答案：December 1972", "December 1972"),
]


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


def test_the_official_normalization_and_token_f1() -> None:
    assert normalize_answer("The  Quick, Brown fox!") == "quick brown fox"
    assert normalize_answer("an Apple a day") == "apple day"
    assert f1("the cat sat", "a cat sat down") == pytest.approx(2 * (2 / 2) * (2 / 3) / (2 / 2 + 2 / 3))
    assert f1("", "anything") == 0.0
    assert f1("the", "a") == 0.0  # v1.1: no shared token scores 0 even when both normalize to nothing


def test_a_cut_off_answer_without_a_final_answer_is_wrong() -> None:
    score = SCORERS["squad"].score("", REFERENCES)
    assert (score.correct, score.score, score.extracted) == (False, 0.0, None)
    assert short_answer("\n  \n") == ""


def test_the_best_reference_counts() -> None:
    score = SCORERS["squad"].score("Bob Russell", ["Bobby Scott", "Bob Russell"])
    assert score.correct is True and score.score == 1.0
    partial = SCORERS["squad"].score("Russell", ["Bobby Scott", "Bob Russell"])
    assert partial.correct is False and partial.score == pytest.approx(2 / 3)
