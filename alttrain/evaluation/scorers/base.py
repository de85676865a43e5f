"""The scorer contract: one benchmark item's final answer against its reference answers.

A scorer sees only the *answer* (the text after the think block, see
:func:`alttrain.evaluation.scoring.split_output`) and the item's acceptable references. It answers
whether the answer is correct (accuracy), a graded score where the benchmark has one (ROUGE-L F1,
SQuAD F1) and what it read as the final answer, so a reader can see why an item scored as it did.
Scorers wrap the field's reference implementations (math-verify, rouge-score, SQuAD's normalization);
adding one is a module here and one line in :data:`alttrain.evaluation.scorers.registry.SCORERS`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ItemScore:
    """One item's score.

    Attributes:
        correct: the item counts as answered correctly (None: the scorer only grades, e.g. ROUGE).
        score: a graded score in [0, 1] (None: the scorer is binary only).
        extracted: what the scorer read as the final answer (None: it found none).

    """

    correct: bool | None
    score: float | None
    extracted: str | None


class Scorer(ABC):
    """Scores a final answer against the references of its item."""

    @abstractmethod
    def score(self, answer: str, references: Sequence[str]) -> ItemScore:
        """Score ``answer`` (never empty of references: items with a scorer carry at least one)."""
