"""What the ``train`` stage reads of the run config."""

from __future__ import annotations

from alttrain.stage import StageView
from alttrain.structure import StructureSpec
from alttrain.training.config import TrainingConfig


class TrainingView(StageView):
    """The structure (its think markers in the chat template) and the training settings."""

    structure: StructureSpec
    training: TrainingConfig
