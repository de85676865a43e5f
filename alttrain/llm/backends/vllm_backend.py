"""The in-process vLLM teacher (GPU machines; the ``gpu`` extra).

vLLM's offline engine is batch-oriented: one ``LLM.chat`` call over many conversations keeps the
GPU busy, one call per request does not. So concurrent :meth:`VLLMBackend.complete` calls are
gathered by a :class:`RequestBatcher` into one ``LLM.chat`` batch, run in a worker thread (the call
blocks). Structured output uses vLLM's ``StructuredOutputsParams(json=schema)`` (vLLM >= 0.11; the
older ``guided_decoding`` API was removed in 0.12). ``vllm`` is imported only when the backend is
built, so everything else runs without it.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable
from types import ModuleType
from typing import Any

from alttrain.errors import ConfigError
from alttrain.llm.backends.base import TeacherBackend
from alttrain.llm.config import TeacherConfig
from alttrain.llm.types import PermanentTeacherError, TeacherRequest, TeacherResponse

BATCH_WINDOW_S = 0.05  # how long the first request of a batch waits for others to join
MAX_BATCH = 256

RunBatch = Callable[[list[TeacherRequest]], list[TeacherResponse]]
_Pending = tuple[TeacherRequest, "asyncio.Future[TeacherResponse]"]


def import_vllm() -> tuple[ModuleType, type]:
    """Import vLLM and its structured-output parameters class.

    Raises:
        ConfigError: when vLLM is not installed, or too old for ``StructuredOutputsParams``.

    """
    try:
        vllm = importlib.import_module("vllm")
    except ImportError as error:
        raise ConfigError(
            f"synthesis.teacher: backend 'vllm' needs vLLM, which is not installed ({error}); "
            "install the gpu extra on a CUDA machine: pip install '.[gpu]'"
        ) from None
    try:
        structured = importlib.import_module("vllm.sampling_params").StructuredOutputsParams
    except (ImportError, AttributeError):
        raise ConfigError(
            f"synthesis.teacher: backend 'vllm' needs vLLM >= 0.11 (StructuredOutputsParams); "
            f"found {getattr(vllm, '__version__', 'unknown')}: upgrade the gpu extra"
        ) from None
    return vllm, structured


class RequestBatcher:
    """Gathers concurrent requests into batches for a blocking batch function run in a thread.

    A batch that fails is retried one request at a time, so one bad request (say, a prompt over the
    context length) fails alone as a :class:`PermanentTeacherError` instead of sinking its batch.
    """

    def __init__(self, run_batch: RunBatch, window_s: float = BATCH_WINDOW_S, max_batch: int = MAX_BATCH) -> None:
        self._run_batch = run_batch
        self._window_s = window_s
        self._max_batch = max_batch
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.batch_sizes: list[int] = []

    async def submit(self, request: TeacherRequest) -> TeacherResponse:
        """Queue ``request`` for the next batch and wait for its response."""
        if self._task is None:
            self._task = asyncio.create_task(self._serve())
        future: asyncio.Future[TeacherResponse] = asyncio.get_running_loop().create_future()
        await self._queue.put((request, future))
        return await future

    async def aclose(self) -> None:
        """Stop serving; requests in flight or still queued fail with a permanent error."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        while not self._queue.empty():
            _, future = self._queue.get_nowait()
            _resolve(future, error=PermanentTeacherError("the vLLM backend was closed"))

    async def _serve(self) -> None:
        """Take a request, let others join for the window, run them as one batch; repeat."""
        while True:
            batch = [await self._queue.get()]
            await asyncio.sleep(self._window_s)
            while not self._queue.empty() and len(batch) < self._max_batch:
                batch.append(self._queue.get_nowait())
            self.batch_sizes.append(len(batch))
            try:
                await self._settle(batch)
            except asyncio.CancelledError:
                for _, future in batch:
                    _resolve(future, error=PermanentTeacherError("the vLLM backend was closed"))
                raise

    async def _settle(self, batch: list[_Pending]) -> None:
        """Run ``batch`` and resolve its futures (one by one after a batch failure)."""
        try:
            responses = await asyncio.to_thread(self._run_batch, [request for request, _ in batch])
        except Exception as error:
            if len(batch) > 1:
                for pending in batch:
                    await self._settle([pending])
                return
            _resolve(batch[0][1], error=PermanentTeacherError(f"{type(error).__name__}: {error}"))
            return
        for (_, future), response in zip(batch, responses, strict=True):
            _resolve(future, response=response)


def _resolve(
    future: asyncio.Future[TeacherResponse],
    response: TeacherResponse | None = None,
    error: BaseException | None = None,
) -> None:
    """Set a future's result or exception unless its caller already gave up on it."""
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(response)  # type: ignore[arg-type]


class VLLMBackend(TeacherBackend):
    """A teacher run in-process by vLLM's offline engine on the GPU(s).

    Raises:
        ConfigError: at construction when vLLM is not installed (or too old).

    """

    supports_structured_output = True

    def __init__(self, teacher: TeacherConfig) -> None:
        self._teacher = teacher
        self._vllm, self._structured_params = import_vllm()
        self._llm: Any = None
        self._batcher = RequestBatcher(self._generate)

    @classmethod
    def key_options(cls, teacher: TeacherConfig) -> dict[str, Any]:
        """The engine options (dtype, context length, parallelism change the numbers)."""
        return teacher.vllm.model_dump(mode="json")

    @property
    def name(self) -> str:
        """``vllm:<model>``."""
        return f"vllm:{self._teacher.model}"

    async def start(self) -> None:
        """Load the model (in a thread: it takes minutes)."""
        if self._llm is None:
            options = self._teacher.vllm
            self._llm = await asyncio.to_thread(
                self._vllm.LLM,
                model=self._teacher.model,
                tensor_parallel_size=options.tensor_parallel_size,
                gpu_memory_utilization=options.gpu_memory_utilization,
                max_model_len=options.max_model_len,
                dtype=options.dtype,
            )

    async def complete(self, request: TeacherRequest) -> TeacherResponse:
        """Answer one request as part of the next batch."""
        if self._llm is None:
            raise PermanentTeacherError("the vLLM teacher is not started (call start() first)")
        return await self._batcher.submit(request)

    async def aclose(self) -> None:
        """Stop batching and drop the engine."""
        await self._batcher.aclose()
        self._llm = None

    def sampling_params(self, request: TeacherRequest) -> Any:
        """Build vLLM ``SamplingParams`` for one request (with its JSON schema, when set)."""
        sampling = request.sampling
        kwargs: dict[str, Any] = {
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "max_tokens": sampling.max_tokens,
            "seed": sampling.seed,
        }
        if sampling.repetition_penalty is not None:
            kwargs["repetition_penalty"] = sampling.repetition_penalty
        if request.json_schema is not None:
            kwargs["structured_outputs"] = self._structured_params(json=request.json_schema)
        return self._vllm.SamplingParams(**kwargs)

    def _generate(self, requests: list[TeacherRequest]) -> list[TeacherResponse]:
        """One blocking ``LLM.chat`` call over a batch of requests (runs in a worker thread)."""
        outputs = self._llm.chat(
            [request.messages for request in requests],
            sampling_params=[self.sampling_params(request) for request in requests],
            use_tqdm=False,
        )
        return [_to_response(output) for output in outputs]


def _to_response(output: Any) -> TeacherResponse:
    """Read text, token counts and finish reason out of a vLLM ``RequestOutput``."""
    completion = output.outputs[0]
    return TeacherResponse(
        text=completion.text,
        prompt_tokens=len(output.prompt_token_ids or []),
        completion_tokens=len(completion.token_ids or []),
        finish_reason=completion.finish_reason,
    )
