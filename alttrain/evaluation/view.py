"""What the ``eval`` stage reads of the run config.

Its base model, model cache and chat template are training's unless it sets them: the run config resolves
them into the ``evaluation`` section at load, so the view holds no ``training``.
"""

from __future__ import annotations

from alttrain.evaluation.config import EvaluationConfig
from alttrain.stage import SectionPart, StageView
from alttrain.structure import StructureSpec


class TrainingProblems(SectionPart):
    """What evaluation reads of ``prompts``: the reasoning-gym tasks and seeds the training problems came from."""

    generated_problems: list[tuple[str, int]]


class EvaluationView(StageView):
    """The run's name (the report's title), the structure, the training problems' seeds, the evaluation."""

    name: str
    structure: StructureSpec
    prompts: TrainingProblems
    evaluation: EvaluationConfig
