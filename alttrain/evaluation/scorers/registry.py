"""Every scorer by the name an item's ``scorer`` column gives (one line per scorer)."""

from __future__ import annotations

from alttrain.evaluation.scorers.base import Scorer
from alttrain.evaluation.scorers.math import MathScorer

SCORERS: dict[str, Scorer] = {
    "math": MathScorer(),
}
