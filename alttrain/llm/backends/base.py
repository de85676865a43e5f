"""The contract between the teacher client and its backends (requests and responses: :mod:`alttrain.llm.types`).

Parsing, validation, retries, caching and accounting live in the client, never in a backend.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

from alttrain.llm.types import TeacherRequest, TeacherResponse

if TYPE_CHECKING:
    from alttrain.llm.config import TeacherConfig


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
    #: prompt-record fields the backend reads (the template teacher writes from them)
    record_fields: tuple[str, ...] = ()

    @classmethod
    def key_options(cls, teacher: TeacherConfig) -> dict[str, Any]:
        """The settings of ``teacher`` that change this backend's answers."""
        return {}

    @property
    @abstractmethod
    def name(self) -> str:
        """``backend:model``, recorded in every row and in the cache key."""

    @abstractmethod
    async def complete(self, request: TeacherRequest) -> TeacherResponse:
        """Answer one request; safe to call concurrently."""

    async def start(self) -> None:  # noqa: B027 - optional hook, most backends need none
        """Acquire resources (start a server, load an engine) before the first request."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook, most backends need none
        """Release whatever ``start`` acquired."""
