"""What the ``datasheet`` stage reads of the run config."""

from __future__ import annotations

from pathlib import Path

from alttrain.datasheets.config import DatasheetConfig
from alttrain.llm.config import TeacherConfig
from alttrain.measures import TokenizerConfig
from alttrain.stage import SectionPart, StageView
from alttrain.structure import StructureSpec


class TeacherFacts(SectionPart):
    """What the datasheet reads of ``synthesis``: the teacher it documents, the mode, the repair budget, the policy."""

    teacher: TeacherConfig
    mode: str
    max_repair_attempts: int
    policy: Path | None = None


class TokenCounting(SectionPart):
    """What the datasheet reads of ``curation``: the token counter (lengths are counted as curation counts them)."""

    tokenizer: TokenizerConfig


class DatasheetView(StageView):
    """The run's name, the structure, the teacher, curation's token counter and the datasheet settings."""

    name: str
    structure: StructureSpec
    synthesis: TeacherFacts
    curation: TokenCounting
    datasheet: DatasheetConfig
