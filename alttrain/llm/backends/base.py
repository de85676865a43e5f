"""The contract between the teacher client and its backends.

A backend turns one :class:`TeacherRequest` into one :class:`TeacherResponse`, or raises
:class:`TransientTeacherError` (worth a retry: 429, 5xx, timeouts, dropped connections) or
:class:`PermanentTeacherError` (not worth one: bad request, auth, a body that is not a completion).
Parsing, validation, retries, caching and accounting live in the client, never in a backend.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SamplingParams:
    """Sampling settings sent with every request (part of the cache key)."""

    temperature: float = 0.7
    top_p: float = 0.95
    max_tokens: int = 1024
    seed: int | None = 0
    repetition_penalty: float | None = None


@dataclass(frozen=True)
class TeacherRequest:
    """One chat request for one prompt record.

    ``record`` carries the prompt row (prompt, label, category, original_reasoning, original_answer,
    reference_answer, id); LLM backends ignore it, the rule-based ``template`` backend writes from it.
    ``json_schema`` asks for structured output when the backend supports it.
    """

    messages: list[dict[str, str]]
    sampling: SamplingParams
    record: dict[str, Any] = field(default_factory=dict)
    json_schema: dict[str, Any] | None = None


@dataclass(frozen=True)
class TeacherResponse:
    """What a backend returned for one request."""

    text: str
    reasoning_content: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str | None = None


class TeacherError(RuntimeError):
    """A request that failed at the backend."""


class TransientTeacherError(TeacherError):
    """A failure worth retrying; ``retry_after`` (seconds) when the server said how long to wait."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentTeacherError(TeacherError):
    """A failure that a retry will not fix."""


class TeacherBackend(ABC):
    """A way to reach a teacher model."""

    #: whether ``json_schema`` in a request is enforced (JSON schema / guided decoding / grammar)
    supports_structured_output: bool = False

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
