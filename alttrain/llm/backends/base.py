"""The contract between the teacher client and its backends (requests and responses: :mod:`alttrain.llm.types`).

Parsing, validation, retries, caching and accounting live in the client, never in a backend.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

from alttrain.llm.types import TeacherError, TeacherRequest, TeacherResponse

if TYPE_CHECKING:
    from alttrain.llm.config import TeacherConfig

#: the client's way to send one request (through its slots, rate limits and retries)
Send = Callable[[TeacherRequest], Awaitable[TeacherResponse]]
#: a request's answer, or the failure that ended it
Outcome = TeacherResponse | TeacherError


class TeacherBackend(ABC):
    """A way to reach a teacher model.

    The response cache keys a request by the teacher, the messages, the sampling and the schema, plus
    what a backend adds: :meth:`key_options` (the backend settings that change an answer: the endpoint,
    the model file, engine options, template texts) and :attr:`record_fields` (fields of the prompt
    record that the backend reads beyond the messages). Both are known without starting the backend,
    so a re-parse computes the same keys offline.
    """

    #: whether ``json_schema`` in a request is enforced (JSON schema / guided decoding / grammar)
    supports_structured_output: bool = False
    #: whether a model answers (False: traces written from rules, which can neither judge nor be evaluated)
    is_model: bool = True
    #: whether requests can go as Batch API batches (the request bodies are this backend's)
    supports_batch: bool = False
    #: whether every client reaches one shared endpoint (Ray actors then split its budgets) rather than
    #: an engine of its own
    shared_endpoint: bool = False
    #: whether it loads a checkpoint on this machine with an optional PEFT/LoRA adapter (``teacher.checkpoint``)
    supports_lora: bool = False
    #: whether a conversation may end with an assistant message that the model continues (a prefill)
    supports_prefill: bool = False
    #: whether it answers a request with ``choices`` by the model's own likelihood of each choice
    supports_choices: bool = False
    #: whether each Ray actor may run a client of its own (False: the answers depend on which requests one
    #: process sees together, as transformers' padded batches do)
    supports_ray: bool = True
    #: prompt-record fields the backend reads (the template teacher writes from them)
    record_fields: tuple[str, ...] = ()

    @classmethod
    def key_options(cls, teacher: TeacherConfig) -> dict[str, Any]:
        """The settings of ``teacher`` that change this backend's answers."""
        return {}

    @classmethod
    def identity(cls, teacher: TeacherConfig) -> str:
        """``backend:model``: the model as the cache key and every row name it (known without starting it)."""
        return f"{teacher.backend}:{teacher.model}"

    @property
    @abstractmethod
    def name(self) -> str:
        """``backend:model``, recorded in every row and in the cache key."""

    @abstractmethod
    async def complete(self, request: TeacherRequest) -> TeacherResponse:
        """Answer one request; safe to call concurrently."""

    async def complete_many(self, requests: list[TeacherRequest], send: Send) -> AsyncIterator[tuple[int, Outcome]]:
        """Answer ``requests``, yielding ``(position, response or failure)`` as each is ready.

        The default sends each through ``send`` (the client's one-request path), all at once; a backend
        that decodes requests together (transformers' padded batches) overrides it.
        """

        async def one(position: int, request: TeacherRequest) -> tuple[int, Outcome]:
            try:
                return position, await send(request)
            except TeacherError as error:
                return position, error

        for answered in asyncio.as_completed([one(position, request) for position, request in enumerate(requests)]):
            yield await answered

    async def start(self) -> None:  # noqa: B027 - optional hook, most backends need none
        """Acquire resources (start a server, load an engine) before the first request."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook, most backends need none
        """Release whatever ``start`` acquired."""
