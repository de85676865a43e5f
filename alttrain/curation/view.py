"""What the ``curate`` stage reads of the run config."""

from __future__ import annotations

from pathlib import Path

from alttrain.curation.config import CurationConfig
from alttrain.llm.config import TeacherConfig
from alttrain.stage import SectionPart, StageView
from alttrain.structure import StructureSpec


class JudgeDefaults(SectionPart):
    """What curation reads of ``synthesis``: the judge filter's default teacher and cache."""

    teacher: TeacherConfig
    cache_path: Path | None = None


class CurationView(StageView):
    """The structure, the curation settings, and the judge's defaults from synthesis."""

    structure: StructureSpec
    synthesis: JudgeDefaults
    curation: CurationConfig
