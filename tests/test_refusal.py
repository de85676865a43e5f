import polars as pl
import pytest

from alttrain.refusal import looks_like_refusal, refusal_regex

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
