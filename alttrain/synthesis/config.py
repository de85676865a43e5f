"""Config of the ``synthesize`` stage: the teacher (:mod:`alttrain.llm.config`), mode, repairs, the executor, the probe.

The executor (:mod:`alttrain.execution`) is ``local`` (this process), ``ray`` (an actor pool) or ``batch``
(Batch API batches): ``executor: {kind: ..., ...options}``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, model_validator

from alttrain.execution.config import ExecutorSettings, upgrade_executor
from alttrain.execution.local import LocalSettings
from alttrain.execution.registry import executor_class
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
    # the safety policy file (alttrain.policy; default: the shipped one): each row's category and response mode
    policy: Path | None = None
    teacher: TeacherConfig = Field(default_factory=TeacherConfig)
    max_repair_attempts: int = Field(default=2, ge=0)  # re-asks with the validator's complaint
    # maxLength per JSON field in structured output (small teachers run to max_tokens without it)
    max_field_chars: dict[Literal["understanding", "assessment", "reasoning", "answer"], PositiveInt] = Field(
        default_factory=dict
    )
    cache_path: Path | None = None  # default: RUN/cache.sqlite
    limit: PositiveInt | None = None  # synthesize only the first N prompts (smoke runs)
    # longer prompts (with their original trace) are quarantined as bad_input instead of being sent
    max_prompt_chars: PositiveInt = 60_000
    probe: TeacherProbeConfig | None = None  # RUN/teacher_probe/: a few prompts through a second teacher
    # where the requests go: local (one client here), ray (the same engine on an actor pool, one client per
    # actor) or batch (Batch API batches, about half price within a day)
    executor: ExecutorSettings = Field(default_factory=LocalSettings)

    @model_validator(mode="before")
    @classmethod
    def _old_executor_forms(cls, data: Any) -> Any:
        """``executor: local|ray`` with ``ray:``, and ``batch:``: read as ``executor: {kind: ...}`` (noted once)."""
        return upgrade_executor(data, "synthesis")

    @model_validator(mode="after")
    def _executor_carries_the_teacher(self) -> SynthesisConfig:
        """The executor can carry the teacher's requests (a batch needs a backend with a Batch API)."""
        if (problem := executor_class(self.executor).teacher_problem(self.teacher)) is not None:
            raise ValueError(f"executor {self.executor.kind}: {problem}")
        return self
