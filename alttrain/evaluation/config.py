"""Config of the ``eval`` stage: the models to compare, the benchmarks, the judges and generation.

By default two models are compared on the four offline benchmarks: ``base`` (the training base model)
and ``tuned`` (the same model with the LoRA adapter training wrote to ``RUN/model/adapter``). Every model
under test is a client of the registered backends (:data:`alttrain.llm.registry.BACKENDS`), as the teacher
is: transformers on this machine (``backend: transformers``, batched greedy decoding), vLLM on this
machine (``backend: vllm``, the adapter through vLLM's LoRA support), any OpenAI-compatible endpoint
(``backend: openai``) or the embedded local server (``backend: local``).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, field_validator, model_validator

from alttrain.evaluation.benchmarks import (
    AdvBenchBenchmark,
    DoNotAnswerBenchmark,
    HarmBenchBenchmark,
    ReasoningGymBenchmark,
)
from alttrain.evaluation.capability.math import AIME24Benchmark, GSM8KBenchmark, Math500Benchmark, MGSMBenchmark
from alttrain.evaluation.capability.multiple_choice import CmmluBenchmark
from alttrain.evaluation.capability.qa import NqOpenBenchmark
from alttrain.evaluation.capability.summarization import SummarizationBenchmark
from alttrain.evaluation.hub_benchmarks import (
    JailbreakBenchBenchmark,
    StrongRejectBenchmark,
    WildJailbreakBenchmark,
    XSTestBenchmark,
)
from alttrain.evaluation.zh_safety import FlamesBenchmark, XSafetyBenchmark
from alttrain.execution.config import InteractiveExecutorSettings, upgrade_executor
from alttrain.execution.local import LocalSettings
from alttrain.execution.registry import executor_class
from alttrain.layout import ADAPTER_DIR
from alttrain.llm.backends import backend_class
from alttrain.llm.config import BackendName, ClientOptions, SamplingConfig, TeacherConfig
from alttrain.measures import TokenizerConfig
from alttrain.models.precision import PRECISION_HELP, Precision
from alttrain.models.source import DEFAULT_MODEL_CACHE, EMBEDDED_MODEL
from alttrain.neardup import DedupConfig

BenchmarkConfig = Annotated[
    HarmBenchBenchmark
    | DoNotAnswerBenchmark
    | AdvBenchBenchmark
    | ReasoningGymBenchmark
    | StrongRejectBenchmark
    | XSTestBenchmark
    | JailbreakBenchBenchmark
    | WildJailbreakBenchmark
    | GSM8KBenchmark
    | Math500Benchmark
    | AIME24Benchmark
    | MGSMBenchmark
    | NqOpenBenchmark
    | SummarizationBenchmark
    | CmmluBenchmark
    | XSafetyBenchmark
    | FlamesBenchmark,
    Field(discriminator="kind"),
]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _greedy() -> SamplingConfig:
    """Greedy decoding (temperature 0), the default for models under test and judges."""
    return SamplingConfig(temperature=0.0, top_p=1.0, max_tokens=512, seed=0)


#: the old form of an endpoint model under test, read with a deprecation note
LEGACY_TEACHER = "teacher"


class ModelUnderTest(ClientOptions):
    """One model to evaluate: a backend from the registry, and how its client reaches it (as the teacher's).

    A backend that loads a checkpoint (``supports_lora``: ``transformers``, ``vllm``) loads ``model``
    (default: ``evaluation.base_model``, training's unless set; ``smollm2-embedded`` included) plus an
    optional PEFT ``adapter`` (relative paths are under the run directory), prompted with
    ``evaluation.chat_template`` (training's unless set); ``vllm`` takes
    its engine options from ``vllm``. Another backend (``openai``, ``local``) needs ``model`` and takes a
    teacher's client options (``base_url``, ``api_key_env``, limits, retries, ``local``). Every model
    decodes with ``evaluation.sampling``. The old ``backend: teacher`` with a ``teacher:`` section is read
    as that teacher's fields (its ``sampling`` was never used), with a deprecation note.
    """

    backend: BackendName = "transformers"
    adapter: Path | None = None
    # this model's limit on new tokens instead of evaluation.sampling.max_tokens (the report lists both): a
    # base model that never stops can be judged on its first few hundred tokens
    max_tokens: PositiveInt | None = None

    @model_validator(mode="before")
    @classmethod
    def _read_the_teacher_form(cls, data: Any) -> Any:
        """``backend: teacher`` + ``teacher: {...}`` (deprecated): the teacher's fields, less its sampling."""
        if not isinstance(data, dict) or "teacher" not in data and data.get("backend") != LEGACY_TEACHER:
            return data
        if data.get("backend") != LEGACY_TEACHER:
            raise ValueError("'teacher' is only read with backend 'teacher'")
        if data.get("teacher") is None:
            raise ValueError("backend 'teacher' needs a 'teacher' section")
        if data.get("model") is not None or data.get("adapter") is not None:
            raise ValueError("backend 'teacher' takes its model from 'teacher'; drop 'model'/'adapter'")
        teacher = data["teacher"]
        fields = teacher.model_dump(exclude_unset=True) if isinstance(teacher, TeacherConfig) else dict(teacher)
        fields.setdefault("backend", TeacherConfig.model_fields["backend"].default)
        fields.setdefault("model", TeacherConfig.model_fields["model"].default)
        warnings.warn("evaluation.models: 'backend: teacher' with a 'teacher' section is deprecated; write the "
                      f"teacher's fields in the model itself (backend: {fields['backend']})", FutureWarning,
                      stacklevel=2)  # fmt: skip
        for unread in set(TeacherConfig.model_fields) - set(ClientOptions.model_fields):  # sampling, template, ...
            fields.pop(unread, None)
        rest = {key: value for key, value in data.items() if key not in {"backend", "teacher"}}
        return {**fields, **rest}

    @model_validator(mode="after")
    def _backend_reads_its_fields(self) -> ModelUnderTest:
        """A model, not rules; ``model`` for a backend without a checkpoint; an adapter only where one loads."""
        backend = backend_class(self.backend)
        if not backend.is_model:
            raise ValueError(f"backend {self.backend!r} writes traces from rules; it is no model to test")
        if not backend.supports_lora:
            if self.model is None:
                raise ValueError(f"backend {self.backend!r} needs 'model' (only a checkpoint defaults to training's)")
            if self.adapter is not None:
                raise ValueError(f"backend {self.backend!r} loads no adapter; drop 'adapter'")
        return self


def _default_models() -> dict[str, ModelUnderTest]:
    return {"base": ModelUnderTest(), "tuned": ModelUnderTest(adapter=ADAPTER_DIR)}


def _default_benchmarks() -> list[BenchmarkConfig]:
    return [HarmBenchBenchmark(), DoNotAnswerBenchmark(), AdvBenchBenchmark(), ReasoningGymBenchmark()]


class JudgeConfig(_Section):
    """A model judge reached through the teacher client (``openai``, ``vllm`` or ``local``).

    ``teacher`` says how to reach it; its requests use ``sampling`` (greedy by default).
    """

    teacher: TeacherConfig
    sampling: SamplingConfig = Field(default_factory=_greedy)
    max_parse_attempts: PositiveInt = 3

    @field_validator("teacher")
    @classmethod
    def _no_template_judge(cls, teacher: TeacherConfig) -> TeacherConfig:
        """The rule-based template backend cannot judge."""
        if not backend_class(teacher.backend).is_model:
            raise ValueError(f"a judge needs a model: backend 'openai', 'vllm' or 'local', not {teacher.backend!r}")
        return teacher


class JudgesConfig(_Section):
    """Which model judges run on harmful rows (the refusal heuristic always runs on every row)."""

    strongreject: JudgeConfig | None = None
    guard: JudgeConfig | None = None


class HeldOutConfig(_Section):
    """Where the training prompts are read from (default ``RUN/dataset/hf``, else ``RUN/prompts.parquet``).

    ``near_dup`` is curation's dedup config; its MinHash-LSH settings decide what counts as a near
    duplicate of a training prompt.
    """

    training_set: Path | None = None
    require_training_set: bool = True
    near_dup: DedupConfig = Field(default_factory=DedupConfig)


class EvaluationConfig(_Section):
    """The ``evaluation`` section of a run config.

    ``base_model``, ``model_cache_dir`` and ``chat_template`` default to the ``training`` section's (the run
    config resolves them at load); a value given here wins.
    """

    models: dict[str, ModelUnderTest] = Field(default_factory=_default_models, min_length=1)
    base_model: str = EMBEDDED_MODEL  # what a model under test without its own ``model`` loads
    model_cache_dir: Path = DEFAULT_MODEL_CACHE
    chat_template: str = Field(
        default="auto", description="auto (the tokenizer's own, else chatml), a shipped name, or a .jinja path"
    )
    baseline: str = "base"  # deltas are reported against this model
    benchmarks: list[BenchmarkConfig] = Field(default_factory=_default_benchmarks, min_length=1)
    judges: JudgesConfig = Field(default_factory=JudgesConfig)
    heldout: HeldOutConfig = Field(default_factory=HeldOutConfig)
    sampling: SamplingConfig = Field(default_factory=_greedy)  # every model's; max_tokens = max new tokens
    system_prompt: str | None = None
    batch_size: PositiveInt = 8  # transformers generation
    threads: PositiveInt | None = None  # torch CPU threads (default: torch's choice)
    precision: Precision = Field(default="auto", description=PRECISION_HELP)  # transformers generation
    tokenizer: TokenizerConfig | None = None  # counts reasoning tokens of every model; default: the baseline's
    bootstrap_resamples: PositiveInt = 1000
    confidence: float = Field(default=0.95, gt=0.0, lt=1.0)
    seed: int = 0
    cache_path: Path | None = None  # default: RUN/eval/cache.sqlite
    # {kind: ray, ...}: the models under test whose backend supports_ray answer on a pool of Ray actors, one
    # client per actor; transformers models still generate in this process (their batches decide their outputs)
    executor: InteractiveExecutorSettings = Field(default_factory=LocalSettings)

    @model_validator(mode="before")
    @classmethod
    def _old_executor_forms(cls, data: Any) -> Any:
        """``executor: local|ray`` with ``ray:``: read as ``executor: {kind: ...}`` (noted once)."""
        return upgrade_executor(data, "evaluation")

    @model_validator(mode="after")
    def _baseline_is_a_model(self) -> EvaluationConfig:
        """The baseline must be one of the models; benchmark names must be unique."""
        if self.baseline not in self.models:
            raise ValueError(f"baseline {self.baseline!r} is not one of the models {sorted(self.models)}")
        names = [benchmark.name for benchmark in self.benchmarks]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"benchmarks listed twice: {duplicates}")
        distributed = executor_class(self.executor).distributed
        if distributed and not any(backend_class(m.backend).supports_ray for m in self.models.values()):
            raise ValueError(f"executor {self.executor.kind!r} runs models whose backend supports Ray (not "
                             "transformers) away from this process; no model here has one")
        return self

    @property
    def cache_dir(self) -> Path:
        """``model_cache_dir`` with ``~`` expanded."""
        return self.model_cache_dir.expanduser()
