"""The ``math`` scorer gives math-verify's own verdict on fixed final answers, and bounds each item in time."""

import time

import pytest
from math_verify import parse, verify

from alttrain.evaluation.scorers.math import MathScorer
from alttrain.evaluation.scorers.registry import SCORERS

#: (final answer, references, correct): the verdict math-verify gives, checked again below by calling it
CASES = [
    ("The answer is $\\boxed{18}$.", ["18"], True),
    ("So she makes \\boxed{18} dollars every day at the market.", ["18"], True),  # a trailing sentence
    ("She makes $18 every day.", ["18"], True),  # a plain number with a unit
    ("The profit is 70,000 dollars.", ["70000"], True),  # thousands separator in the answer
    ("The total is 2125.", ["2,125"], True),  # ... and in the reference (GSM8K writes some so)
    ("The probability is 0.5", ["\\frac{1}{2}"], True),  # decimal vs fraction
    ("$\\boxed{\\frac{14}{3}}$", ["\\frac{14}{3}"], True),
    ("Therefore $\\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}$.", ["\\left( 3, \\frac{\\pi}{2} \\right)"], True),
    ("The answer is $\\boxed{025}$", ["025"], True),  # AIME's zero-padded answers
    ("The answer is 25.", ["025"], True),
    ("The answer is \\boxed{17}.", ["18"], False),  # wrong
    ("First \\boxed{18}, but on reflection \\boxed{17}.", ["18"], False),  # the last box is the answer
    ("The answer is \\boxed{17}.", ["18", "17"], True),  # any reference
    ("", ["18"], False),  # empty
    ("Let me compute 16 - 3 - 4 and then multiply by", ["18"], False),  # cut off before the answer
]


def reference_verdict(answer: str, references: list[str]) -> bool:
    """math-verify called directly: the reference parsed as ``$...$``, the answer parsed whole."""
    return any(verify(parse(f"${reference}$"), parse(answer)) for reference in references)


@pytest.mark.parametrize(("answer", "references", "correct"), CASES)
def test_equals_math_verify_on_fixed_answers(answer: str, references: list[str], correct: bool) -> None:
    scored = SCORERS["math"].score(answer, references)
    assert scored.correct is reference_verdict(answer, references) is correct
    assert scored.score is None


def test_extracted_is_what_math_verify_read() -> None:
    scorer = MathScorer()
    assert scorer.score("So she makes \\boxed{18} dollars.", ["18"]).extracted == "18"
    assert scorer.score("The profit is 70,000 dollars.", ["70000"]).extracted == "70000"
    assert scorer.score("", ["18"]).extracted is None  # nothing read: no final answer


def test_a_comparison_past_the_timeout_is_incorrect_and_says_so() -> None:
    """A tower of powers that sympy cannot compare in time: math-verify gives up, and so does the scorer."""
    answer, references = "\\boxed{9^{9^{9^{9^{9}}}}}", ["3"]
    started = time.monotonic()
    scored = MathScorer(timeout_seconds=1).score(answer, references)
    assert time.monotonic() - started < 30
    assert scored.correct is False
    assert scored.extracted is not None and scored.extracted.startswith("timed out: math-verify comparison")
    assert verify(parse(f"${references[0]}$"), parse(answer), timeout_seconds=1) is False


def test_off_the_main_thread_is_refused() -> None:
    """math-verify's timeout is signal.alarm, which only the main thread may set."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool, pytest.raises(RuntimeError, match="main thread"):
        pool.submit(SCORERS["math"].score, "\\boxed{18}", ["18"]).result()
