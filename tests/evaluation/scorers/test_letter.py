"""The letter extractor on a table of English and Chinese phrasings (its rules are alttrain's own)."""

import pytest

from alttrain.evaluation.scorers.letter import LetterScorer
from alttrain.evaluation.scorers.registry import SCORERS

# (final answer, the letter the documented rules read; None: no letter)
TABLE = [
    ("\\boxed{B}", "B"),
    ("The answer is \\boxed{\\text{C}}. A and B are distractors.", "C"),
    ("Answer: D", "D"),
    ("The answer is (A).", "A"),
    ("The correct option is B because C is too small.", "B"),
    ("A good answer is C.", "C"),
    ("I think B is right.", "B"),
    ("B. 土地", "B"),
    ("答案：B", "B"),
    ("答案是C。", "C"),
    ("正确答案为 D", "D"),
    ("所以选B。", "B"),
    ("综上，应选择 A", "A"),
    ("答案为A，因为B和C都不对", "A"),
    ("（D）", "D"),
    ("A 和 B 都不对，C 也不对，所以是 D。", "D"),
    ("Apollo was the first.", None),
    ("", None),
    ("答案：E", None),
]


@pytest.mark.parametrize(("answer", "letter"), TABLE)
def test_the_documented_extraction_table(answer: str, letter: str | None) -> None:
    assert SCORERS["letter"].extract(answer) == letter  # type: ignore[attr-defined]


@pytest.mark.parametrize(("answer", "letter"), TABLE)
def test_correct_iff_the_extracted_letter_is_the_reference(answer: str, letter: str | None) -> None:
    for reference in "ABCD":
        score = SCORERS["letter"].score(answer, [reference])
        assert (score.correct, score.score, score.extracted) == (letter == reference, None, letter)


def test_only_the_items_choice_letters_count() -> None:
    assert LetterScorer("ABCDE").extract("答案：E") == "E"
    assert LetterScorer("AB").extract("C is wrong, so A") == "A"
