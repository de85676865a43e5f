r"""The choice letter of a multiple-choice answer (CMMLU), read by alttrain's documented extractor.

No reference package grades free-form multiple-choice answers offline (lm-eval and OpenCompass compare
log-likelihoods or use their own regexes), so these rules are alttrain's own, tested on a table of
English and Chinese phrasings (``tests/evaluation/scorers/test_letter.py``). In the final answer, the
first rule that matches wins, and within a rule the last match:

1. a boxed letter: ``\boxed{B}`` (also ``\boxed{\text{B}}``);
2. an explicit answer: ``Answer: B``, ``the answer is (B)``, ``the correct option is B``, ``答案：B``,
   ``答案是B``, ``答案为 B``, ``选B``, ``应选 B``, ``选择 B``;
3. a letter in brackets: ``(B)``, ``（B）``, ``[B]``;
4. the last standalone choice letter: an upper-case choice letter with no Latin letter on either side
   (``B.``, ``B、``, ``是B。``, but not the ``A`` of ``A good answer`` when a later letter stands alone).

None found: incorrect, ``extracted`` None. Only the item's choice letters count (``A``-``D`` by default).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from alttrain.evaluation.scorers.base import ItemScore, Scorer


def _rules(letters: str) -> list[re.Pattern[str]]:
    """The extraction rules for choice letters ``letters``, in order (each captures the letter)."""
    choice = f"([{letters}])"
    alone = r"(?<![A-Za-z])" + choice + r"(?![A-Za-z])"
    return [
        re.compile(r"\\boxed\{\s*(?:\\text(?:bf)?\{)?\s*" + choice + r"\s*\}"),
        re.compile(
            r"(?:answer|correct (?:option|choice))\s*(?:is|:|：)?\s*(?:option\s*)?[(（\[]?\s*" + alone
            + r"|(?:答案|选择?)\s*(?:是|为|為|:|：)?\s*[(（\[]?\s*" + alone,
            re.IGNORECASE,
        ),
        re.compile(r"[(（\[]\s*" + choice + r"\s*[)）\]]"),
        re.compile(alone),
    ]


class LetterScorer(Scorer):
    """Correct when the extracted letter is one of the references (the item's answer letter)."""

    def __init__(self, letters: str = "ABCD") -> None:
        """Extract only ``letters`` (upper case, the item's choices)."""
        self.letters = letters
        self._rules = _rules(letters)

    def extract(self, answer: str) -> str | None:
        """The choice letter ``answer`` gives (see the module docstring), or None."""
        for rule in self._rules:
            found = [next(group for group in match.groups() if group) for match in rule.finditer(answer)]
            if found:
                return found[-1]
        return None

    def score(self, answer: str, references: Sequence[str]) -> ItemScore:
        """Binary: ``score`` is None."""
        letter = self.extract(answer)
        correct = letter is not None and letter in {reference.strip().upper() for reference in references}
        return ItemScore(correct=correct, score=None, extracted=letter)
