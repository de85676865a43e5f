import polars as pl
import pytest

from alttrain.refusal import bare_refusal_heuristic, looks_like_bare_refusal, looks_like_refusal, refusal_regex

REFUSALS = [
    "I can't help with that request.",
    "I\u2019m sorry, but I cannot assist with creating malware.",
    "I won't provide instructions for that. Instead, here are safety resources.",
    "As an AI, I must decline.",
    "I am not able to share that information.",
]
ANSWERS = [
    "The total is 42.",
    "Here is a step-by-step plan for your garden: water, sun, soil.",
    "x = 7 satisfies the equation because 3 * 7 = 21.",
    "Paris is the capital of France.",
]


@pytest.mark.parametrize("text", REFUSALS)
def test_refusals_are_recognised(text: str) -> None:
    assert looks_like_refusal(text)


@pytest.mark.parametrize("text", ANSWERS)
def test_answers_are_not_refusals(text: str) -> None:
    assert not looks_like_refusal(text)


def test_late_refusal_phrase_in_long_answer_is_not_a_refusal() -> None:
    text = "Step one: measure the flour. " * 30 + "I can't stress enough how easy this is."
    assert not looks_like_refusal(text)


def test_polars_regex_agrees_with_python() -> None:
    texts = REFUSALS + ANSWERS
    frame = pl.DataFrame({"text": texts}).with_columns(
        pl.col("text").str.replace_all("\u2019", "'").str.slice(0, 400).str.contains(refusal_regex()).alias("r")
    )
    assert frame["r"].to_list() == [looks_like_refusal(t) for t in texts]


def test_sympathy_is_not_a_bare_refusal_but_declining_still_is() -> None:
    texts = [
        "I'm sorry you are going through this. A crisis line such as 988 can help right now.",
        "I am sorry to hear that. You deserve support; please reach out to someone you trust.",
        "I'm sorry you feel this way, but I can't help with that.",
        "I'm sorry, but I can't help with that.",
    ]
    assert [looks_like_refusal(t) for t in texts] == [True, True, True, True]
    assert [looks_like_bare_refusal(t) for t in texts] == [False, False, True, True]
    frame = pl.DataFrame({"answer": texts}).with_columns(bare_refusal_heuristic().alias("bare"))
    assert frame["bare"].to_list() == [looks_like_bare_refusal(t) for t in texts]
