"""What the ``curate`` stage reads of the run config."""

from __future__ import annotations

from alttrain.curation.config import CurationConfig
from alttrain.stage import StageView
from alttrain.structure import StructureSpec
from alttrain.synthesis.config import SynthesisConfig


class CurationView(StageView):
    """The structure, the curation settings, and synthesis: the judge filter's default teacher and cache."""

    structure: StructureSpec
    synthesis: SynthesisConfig
    curation: CurationConfig
