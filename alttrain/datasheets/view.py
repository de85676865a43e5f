"""What the ``datasheet`` stage reads of the run config."""

from __future__ import annotations

from alttrain.curation.config import CurationConfig
from alttrain.datasheets.config import DatasheetConfig
from alttrain.stage import StageView
from alttrain.structure import StructureSpec
from alttrain.synthesis.config import SynthesisConfig


class DatasheetView(StageView):
    """The run's name, the structure, the teacher (synthesis), curation's token counter, the datasheet settings."""

    name: str
    structure: StructureSpec
    synthesis: SynthesisConfig
    curation: CurationConfig
    datasheet: DatasheetConfig
