"""Config of the ``synthesize`` stage: the teacher (see :mod:`alttrain.llm.config`), the mode, repairs and the probe."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from alttrain.llm.config import TeacherConfig


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TeacherProbeConfig(_Section):
    """A small second pass through another teacher, reported and never trained on.

    The quickstart uses it to show the embedded LLM teacher (``local``) writing the structure next to
    the rule-based teacher that makes the training data: its validity rate is what it reports.
    """

    teacher: TeacherConfig
    n: PositiveInt = 4  # prompts, half harmful and half benign where the pool allows
    seed: int = 0  # which prompts are sampled; set from the run's seed when the run config leaves it out


class SynthesisConfig(_Section):
    """The ``synthesis`` section of a run config."""

    mode: Literal["auto", "rewrite", "generate"] = "auto"  # auto: rewrite where an original trace exists
    teacher: TeacherConfig = Field(default_factory=TeacherConfig)
    max_repair_attempts: int = Field(default=2, ge=0)  # re-asks with the validator's complaint
    # maxLength per JSON field in structured output (small teachers run to max_tokens without it)
    max_field_chars: dict[Literal["understanding", "assessment", "reasoning", "answer"], PositiveInt] = Field(
        default_factory=dict
    )
    cache_path: Path | None = None  # default: RUN/cache.sqlite
    limit: PositiveInt | None = None  # synthesize only the first N prompts (smoke runs)
    probe: TeacherProbeConfig | None = None  # RUN/teacher_probe/: a few prompts through a second teacher
