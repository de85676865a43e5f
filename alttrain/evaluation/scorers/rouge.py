"""ROUGE-L F1 of a summary, through Google's ``rouge-score`` (the Python port of ROUGE-1.5.5).

``rouge_l`` is ``rouge_scorer.RougeScorer(["rougeL"])`` as is (its default tokenizer: lower case, runs of
``[a-z0-9]``, no stemming); with several references it takes the best (``score_multi``). That tokenizer
drops every non-ASCII character, so ``rouge_l_zh`` passes :class:`CjkCharTokenizer`: each CJK character is
one token (the usual character-level Chinese ROUGE), runs of ASCII letters and digits are words,
everything else separates. ROUGE grades only: ``correct`` is None, ``score`` the F1.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rouge_score import rouge_scorer, tokenizers

from alttrain.evaluation.scorers.base import ItemScore, Scorer

# CJK unified ideographs (with extension A and the compatibility block), or a run of ASCII letters/digits
_TOKEN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[a-z0-9]+")


class CjkCharTokenizer(tokenizers.Tokenizer):
    """Lower-cased tokens: one per CJK character, one per run of ASCII letters and digits."""

    def tokenize(self, text: str) -> list[str]:
        """The tokens of ``text`` in order."""
        return _TOKEN.findall(text.lower())


class RougeLScorer(Scorer):
    """ROUGE-L F1 against the best-matching reference."""

    def __init__(self, tokenizer: tokenizers.Tokenizer | None = None) -> None:
        """Score with ``tokenizer`` (None: rouge-score's default, which keeps only ASCII words)."""
        self._scorer = rouge_scorer.RougeScorer(["rougeL"], tokenizer=tokenizer)

    def score(self, answer: str, references: Sequence[str]) -> ItemScore:
        """The F1 of the whole final answer (an empty answer scores 0 with ``extracted`` None)."""
        summary = answer.strip()
        if not summary:
            return ItemScore(correct=None, score=0.0, extracted=None)
        best = self._scorer.score_multi(list(references), summary)["rougeL"]
        return ItemScore(correct=None, score=float(best.fmeasure), extracted=summary)
