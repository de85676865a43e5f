"""Config of the ``synthesize`` stage: the teacher (:mod:`alttrain.llm.config`), mode, repairs, batches, the probe.

The executor is ``local`` (this process) or ``ray`` (an actor pool, :mod:`alttrain.scaleout.config`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, model_validator

from alttrain.llm.backends import backend_class
from alttrain.llm.config import TeacherConfig
from alttrain.scaleout.config import RayConfig


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


class BatchConfig(_Section):
    """The batch teacher: requests go to the Batch API of ``synthesis.teacher`` (:mod:`alttrain.synthesis.batch`)."""

    completion_window: Literal["24h"] = "24h"  # the only window the Batch API offers
    # a round over either limit goes out as several batches (OpenAI: 50,000 requests, 200 MB per batch)
    max_requests: PositiveInt = 50_000
    max_file_mb: float = Field(default=190.0, gt=0.0)
    poll_interval_s: float = Field(default=30.0, gt=0.0)  # between two looks at a running batch
    # times a request the batch left unanswered (a transient error line, an expired, failed or cancelled
    # batch) is submitted again before its row is quarantined as teacher_error
    max_resubmits: int = Field(default=2, ge=0)
    # rounds one run may submit before the rows still waiting are quarantined as teacher_error; None:
    # (1 + max_repair_attempts) x (1 + max_resubmits), enough for every repair of every resubmission
    max_rounds: PositiveInt | None = None
    # models an answer may name besides teacher.model and its dated snapshots (gpt-4o-2024-08-06 for
    # gpt-4o): e.g. the model behind an Azure deployment; an answer from any other is refused and re-sent
    answer_models: list[str] = Field(default_factory=list)
    # the provider's batch discount on token prices; None: OpenAI's 50%, recorded as assumed
    discount: float | None = Field(default=None, ge=0.0, lt=1.0)


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
    # longer prompts (with their original trace) are quarantined as bad_input instead of being sent
    max_prompt_chars: PositiveInt = 60_000
    probe: TeacherProbeConfig | None = None  # RUN/teacher_probe/: a few prompts through a second teacher
    batch: BatchConfig | None = None  # set: send the run's requests as Batch API batches instead of one by one
    # ray: the same engine on a Ray Data actor pool (synthesis.ray), one teacher client per actor
    executor: Literal["local", "ray"] = "local"
    ray: RayConfig = Field(default_factory=RayConfig)

    @model_validator(mode="after")
    def _batch_needs_openai(self) -> SynthesisConfig:
        """A batch carries the ``openai`` backend's request bodies; other backends have no Batch API here."""
        if self.batch is not None and not backend_class(self.teacher.backend).supports_batch:
            raise ValueError(f"batch: needs a teacher backend with a Batch API, not {self.teacher.backend!r}")
        return self

    @model_validator(mode="after")
    def _one_executor(self) -> SynthesisConfig:
        """The batch teacher sends whole batches from here; it does not run on actors."""
        if self.batch is not None and self.executor == "ray":
            raise ValueError("executor: 'ray' runs the online engine on actors; with batch: set, leave it 'local'")
        return self
