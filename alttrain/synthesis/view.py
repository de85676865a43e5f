"""What the ``synthesize`` and ``teacher_probe`` stages read of the run config."""

from __future__ import annotations

from alttrain.stage import StageView
from alttrain.structure import StructureSpec
from alttrain.synthesis.config import SynthesisConfig


class SynthesisView(StageView):
    """The structure the traces follow and the teacher's settings (the probe's included)."""

    structure: StructureSpec
    synthesis: SynthesisConfig
