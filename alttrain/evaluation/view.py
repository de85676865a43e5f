"""What the ``eval`` stage reads of the run config.

Its base model, model cache and chat template are training's unless it sets them: the run config resolves
them into the ``evaluation`` section at load, so the view holds no ``training``.
"""

from __future__ import annotations

from alttrain.evaluation.config import EvaluationConfig
from alttrain.sources.pool import PromptsConfig
from alttrain.stage import StageView
from alttrain.structure import StructureSpec


class EvaluationView(StageView):
    """The run's name (the report's title), the structure, the prompt sources (their seeds), the evaluation."""

    name: str
    structure: StructureSpec
    prompts: PromptsConfig
    evaluation: EvaluationConfig
