"""Every scorer by the name an item's ``scorer`` column gives (one line per scorer)."""

from __future__ import annotations

from alttrain.evaluation.scorers.base import Scorer
from alttrain.evaluation.scorers.letter import LetterScorer
from alttrain.evaluation.scorers.math import MathScorer
from alttrain.evaluation.scorers.rouge import CjkCharTokenizer, RougeLScorer
from alttrain.evaluation.scorers.squad import SquadScorer

SCORERS: dict[str, Scorer] = {
    "math": MathScorer(),
    "squad": SquadScorer(),
    "rouge_l": RougeLScorer(),
    "rouge_l_zh": RougeLScorer(CjkCharTokenizer()),
    "letter": LetterScorer(),
}
