"""What goes to a teacher and what comes back: requests, responses, sampling, and the failures of a request.

A backend turns one :class:`TeacherRequest` into one :class:`TeacherResponse`, or raises
:class:`TransientTeacherError` (worth a retry: 429, 5xx, timeouts, dropped connections), its
:class:`MalformedReplyError` (a reply that arrived broken: not JSON, cut off, not a completion; the server
is fine, so it is retried at once) or :class:`PermanentTeacherError` (not worth one: a bad request). A
failure of the whole run (a refused key, an unknown model) is :class:`alttrain.errors.TeacherAccessError`.
"""

from __future__ import annotations

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
    ``json_schema`` asks for structured output when the backend supports it. ``choices`` asks the model to
    pick one of these continuations of the conversation instead of generating (the answer's text is the
    choice; only a backend with ``supports_choices`` takes such a request).
    """

    messages: list[dict[str, str]]
    sampling: SamplingParams
    record: dict[str, Any] = field(default_factory=dict)
    json_schema: dict[str, Any] | None = None
    choices: tuple[str, ...] | None = None


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


class MalformedReplyError(TransientTeacherError):
    """A reply that arrived broken (not JSON, cut off, not a chat completion): worth an immediate retry."""


class PermanentTeacherError(TeacherError):
    """A failure that a retry will not fix."""
