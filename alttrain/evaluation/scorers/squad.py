r"""SQuAD v1.1 exact match and F1 (NQ-open): the official evaluation script's normalization and token F1.

The functions follow ``evaluate-v1.1.py`` of the SQuAD release (lower-case, drop punctuation, drop the
articles a/an/the, collapse white space; F1 over the bag of tokens; the best over every reference), with
SQuAD 2.0's rule where a string normalizes to nothing: F1 is 1 when both do, else 0 (v1.1 scores the
answer ``A+`` against the reference ``A+`` exact but F1 0; 4 of NQ-open's 3,610 dev items have a reference
like that). No package on PyPI ships the official script for offline use (``evaluate``'s ``squad`` metric
fetches its code from the Hub); ``torchmetrics.functional.text.squad`` implements the same functions and is
the independent reference the tests and ``bench/eval_real.py`` compare with.

The scorer reads the short answer out of the final answer (:func:`short_answer`): the content of the last
``\boxed{...}``, else the first non-empty line less a leading ``Answer:``/``Final answer:``/``答案：`` label
and markdown emphasis.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence

from alttrain.evaluation.scorers.base import ItemScore, Scorer

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = set(string.punctuation)
_BOXED = re.compile(r"\\boxed\{([^{}]*)\}")
_LABEL = re.compile(r"^(?:final answer|short answer|answer)\s*[:：]\s*|^答案\s*[:：是为]\s*", re.IGNORECASE)


def normalize_answer(text: str) -> str:
    """SQuAD v1.1's normalization: lower case, no punctuation, no articles, single spaces."""
    text = "".join(char for char in text.lower() if char not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, reference: str) -> bool:
    """The normalized strings are equal."""
    return normalize_answer(prediction) == normalize_answer(reference)


def f1(prediction: str, reference: str) -> float:
    """Token F1 of the normalized strings (where either is empty: 1 if both are, else 0)."""
    predicted = normalize_answer(prediction).split()
    expected = normalize_answer(reference).split()
    if not predicted or not expected:
        return float(predicted == expected)
    same = sum((Counter(predicted) & Counter(expected)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(predicted), same / len(expected)
    return 2 * precision * recall / (precision + recall)


def short_answer(answer: str) -> str:
    """The short answer a QA item is graded on (see the module docstring)."""
    boxed = _BOXED.findall(answer)
    if boxed:
        return boxed[-1].strip()
    line = next((line.strip() for line in answer.splitlines() if line.strip()), "")
    return _LABEL.sub("", line.strip("*_ ")).strip("*_ ")


class SquadScorer(Scorer):
    """``correct`` = exact match, ``score`` = F1, each the best over the references."""

    def score(self, answer: str, references: Sequence[str]) -> ItemScore:
        """Grade the short answer of ``answer``; none (cut off) is incorrect with F1 0 and ``extracted`` None."""
        prediction = short_answer(answer)
        if not prediction:
            return ItemScore(correct=False, score=0.0, extracted=None)
        return ItemScore(
            correct=any(exact_match(prediction, reference) for reference in references),
            score=max(f1(prediction, reference) for reference in references),
            extracted=prediction,
        )
