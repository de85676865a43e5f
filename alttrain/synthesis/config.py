"""Config of the ``synthesize`` stage: the teacher (:mod:`alttrain.llm.config`), mode, repairs, the executor, the probe.

Modes ``self`` and ``restyle`` (:mod:`alttrain.synthesis.own`) have the model to be trained write its own traces:
``teacher`` is then that model, a backend that loads a checkpoint with the training chat template
(``supports_lora``: transformers on CPU, vllm on a GPU); a run config that leaves ``teacher`` out gets training's
base model on the transformers backend.

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
from alttrain.llm.backends import backend_class
from alttrain.llm.config import TeacherConfig

#: modes in which the model to be trained writes its own traces
OWN_MODES = ("self", "restyle")


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

    # auto: rewrite where an original trace exists; self: the model to be trained writes its own trace;
    # restyle: it paraphrases the original trace (the source's, or restyle_from's) in its own words
    mode: Literal["auto", "rewrite", "generate", "self", "restyle"] = "auto"
    # self/restyle: samples per prompt (seeds seed..seed+k-1); the first valid one is kept. This and restyle_from
    # are left out of a dump while unused, so the fingerprint of a section written before they existed stays the same.
    samples: PositiveInt = Field(default=1, exclude_if=lambda samples: samples == 1)
    # restyle: an earlier synthesized.parquet whose ok traces are paraphrased (default: the source's trace)
    restyle_from: Path | None = Field(default=None, exclude_if=lambda path: path is None)
    # self/restyle: true: the assistant turn starts with the structure's opening (think marker, first phase header in
    # the row's language) and the model continues it; the trace is that opening plus the continuation. phases: the
    # scaffold for small models (alttrain.synthesis.scaffold): the harness writes every fixed string of the structure
    # (headers, verdict prefix, think tags), the model each phase and its verdict word, teacher.sampling.max_tokens
    # per phase
    prefill: bool | Literal["phases"] = Field(default=False, exclude_if=lambda prefill: not prefill)
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

    @property
    def own_traces(self) -> bool:
        """Whether the model to be trained writes the traces (modes ``self`` and ``restyle``)."""
        return self.mode in OWN_MODES

    @model_validator(mode="after")
    def _own_traces_need_the_model(self) -> SynthesisConfig:
        """Self/restyle need a checkpoint-loading backend (prefill: one that continues it), samples a temperature."""
        if not self.own_traces:
            if self.samples != 1 or self.restyle_from is not None or self.prefill:
                raise ValueError(f"samples, restyle_from and prefill apply to modes self and restyle, "
                                 f"not {self.mode!r}")  # fmt: skip
            return self
        backend = backend_class(self.teacher.backend) if "teacher" in self.model_fields_set else None
        if backend is not None and not backend.supports_lora:
            raise ValueError(f"mode {self.mode!r}: the model to be trained writes the traces; backend "
                             f"{self.teacher.backend!r} loads no checkpoint (use transformers or vllm)")
        if self.prefill and backend is not None and not backend.supports_prefill:
            raise ValueError(f"prefill: backend {self.teacher.backend!r} cannot continue an assistant message")
        if self.samples > 1 and self.teacher.sampling.temperature == 0:
            raise ValueError(f"samples: {self.samples} identical greedy samples; set teacher.sampling.temperature > 0")
        if self.restyle_from is not None and self.mode != "restyle":
            raise ValueError("restyle_from applies to mode restyle")
        return self

    @model_validator(mode="after")
    def _executor_carries_the_teacher(self) -> SynthesisConfig:
        """The executor can carry the teacher's requests (a batch needs a backend with a Batch API)."""
        if (problem := executor_class(self.executor).teacher_problem(self.teacher)) is not None:
            raise ValueError(f"executor {self.executor.kind}: {problem}")
        return self
