"""The OpenAI-compatible backend: OpenAI itself, vLLM's server, llama.cpp's server, any ``/v1`` endpoint.

It owns the HTTP side only: one ``AsyncOpenAI`` with the SDK's own retries off (the teacher client
retries), a connection pool as large as the configured concurrency, and a mapping of every failure
onto :class:`TransientTeacherError` (429 with ``Retry-After``, 5xx, 408, timeouts, dropped
connections), :class:`MalformedReplyError` (a reply body cut off or unreadable, or not a chat completion)
or :class:`PermanentTeacherError` (other 4xx).

Throughput: the SDK's default httpx transport scans every pooled connection per request, and
``chat.completions.create`` walks the request through the SDK's type transforms. So the client
uses the SDK's aiohttp transport (``DefaultAioHttpClient``) and posts the ready JSON body with the
SDK's ``post(..., cast_to=dict)`` (building ``ChatCompletion`` models costs more than reading the
four fields used): the same auth, errors and timeouts, at a fraction of the CPU per request
(``bench/teacher_throughput.py`` measures it; figures in the README).
"""

from __future__ import annotations

import email.utils
import json
import re
import time
from collections.abc import Mapping
from typing import Any

import aiohttp
import openai

from alttrain.errors import ConfigError, TeacherAccessError
from alttrain.llm.backends.base import TeacherBackend
from alttrain.llm.config import TeacherConfig
from alttrain.llm.types import (
    MalformedReplyError,
    PermanentTeacherError,
    TeacherRequest,
    TeacherResponse,
    TransientTeacherError,
)

#: sent as the key to servers that need none (a local server must never receive a real OpenAI key)
PLACEHOLDER_API_KEY = "not-needed"
#: statuses worth a retry besides 429 and 5xx
TRANSIENT_STATUSES = frozenset({408, 409, 425})
#: statuses that no retry fixes and that every other request of the run would get too
ACCESS_STATUSES = {401: "authentication failed", 403: "access denied", 404: "not found"}
#: what looks like a secret in a server's error text: OpenAI-style keys and bearer tokens
_SECRET_PATTERN = re.compile(r"\b(?:sk|pk|rk|hf)[-_][A-Za-z0-9_\-]{8,}|Bearer\s+\S+", flags=re.IGNORECASE)
#: names OpenAI-compatible servers read a repetition penalty under (vLLM, llama.cpp); both are sent
REPETITION_PENALTY_FIELDS = ("repetition_penalty", "repeat_penalty")


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Replace the given secrets, and anything shaped like a key or bearer token, with ``[redacted]``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    return _SECRET_PATTERN.sub("[redacted]", text)


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Read the seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or HTTP date), if any."""
    milliseconds = headers.get("retry-after-ms")
    if milliseconds is not None:
        try:
            return max(float(milliseconds) / 1000.0, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(moment.timestamp() - time.time(), 0.0)


def response_format(schema: dict[str, Any]) -> dict[str, Any]:
    """Build the ``response_format`` asking for JSON that follows ``schema`` (named by its ``title``)."""
    name = str(schema.get("title", "response")).replace(" ", "_")
    return {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": True}}


class OpenAIBackend(TeacherBackend):
    """A teacher behind an OpenAI-compatible chat-completions endpoint.

    Args:
        teacher: the teacher config (model, base URL, key variable, timeout, concurrency).
        base_url: overrides ``teacher.base_url`` (the local backend points this at its own server).
        api_key: overrides the key read from ``teacher.api_key_env``.

    Raises:
        ConfigError: when the key variable (``api_key_env``, or ``$OPENAI_API_KEY`` for OpenAI itself) is unset.

    """

    supports_structured_output = True
    supports_batch = True
    shared_endpoint = True

    def __init__(
        self, teacher: TeacherConfig, *, base_url: str | None = None, api_key: str | None = None
    ) -> None:
        self._teacher = teacher
        self._base_url = base_url or teacher.base_url
        if api_key is None and (problem := teacher.missing_key()) is not None:
            raise ConfigError(problem)  # before any request: it would only be refused
        key = api_key or teacher.api_key() or PLACEHOLDER_API_KEY
        self._secrets = tuple(s for s in (key,) if s != PLACEHOLDER_API_KEY)
        self._endpoint = (self._base_url or teacher.endpoint).rstrip("/")
        limits_type = type(openai.DEFAULT_CONNECTION_LIMITS)  # httpx.Limits or httpx2.Limits, as the SDK uses
        pool = limits_type(max_connections=teacher.concurrency, max_keepalive_connections=teacher.concurrency)
        self._client = openai.AsyncOpenAI(
            api_key=key,
            base_url=self._base_url,
            timeout=teacher.timeout_s,
            max_retries=0,
            http_client=openai.DefaultAioHttpClient(limits=pool, timeout=teacher.timeout_s),
        )

    @property
    def name(self) -> str:
        """``openai:<model>``."""
        return f"openai:{self._teacher.model}"

    def request_body(self, request: TeacherRequest) -> dict[str, Any]:
        """Build the JSON body of the chat-completions request for ``request``."""
        sampling = request.sampling
        body: dict[str, Any] = {
            "model": self._teacher.model,
            "messages": request.messages,
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "max_tokens": sampling.max_tokens,
        }
        if sampling.seed is not None:
            body["seed"] = sampling.seed
        if sampling.repetition_penalty is not None:
            body.update(dict.fromkeys(REPETITION_PENALTY_FIELDS, sampling.repetition_penalty))
        if request.json_schema is not None:
            body["response_format"] = response_format(request.json_schema)
        return body

    async def complete(self, request: TeacherRequest) -> TeacherResponse:
        """Send one chat completion; map every failure onto a transient or permanent error."""
        try:
            completion = await self._client.post(
                "/chat/completions", body=self.request_body(request), cast_to=dict
            )
        except openai.APIStatusError as error:
            raise self._status_error(error) from None
        except openai.APIConnectionError as error:  # includes APITimeoutError
            message = redact(f"{type(error).__name__}: {error.message}", self._secrets)
            if body_cut_off(error):
                raise MalformedReplyError(f"response body cut off: {message}") from None
            raise TransientTeacherError(message) from None
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise MalformedReplyError(f"malformed response body: {error}") from None
        return to_response(completion)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.close()

    @classmethod
    def key_options(cls, teacher: TeacherConfig) -> dict[str, Any]:
        """The endpoint: two servers with one model name are two teachers."""
        return {"endpoint": teacher.endpoint}

    def _status_error(self, error: openai.APIStatusError) -> Exception:
        """Map an HTTP error status onto the backend contract (401/403/404 stop the whole run)."""
        status = error.status_code
        message = redact(f"HTTP {status}: {error.message}", self._secrets)
        if status in ACCESS_STATUSES:
            return TeacherAccessError(self._access_problem(status))
        if status == 429 or status >= 500 or status in TRANSIENT_STATUSES:
            return TransientTeacherError(message, retry_after=parse_retry_after(error.response.headers))
        return PermanentTeacherError(message)

    def _access_problem(self, status: int) -> str:
        """Say which endpoint refused the run, and what to check (never the server's body: it may echo a key)."""
        variable = self._teacher.key_variable
        key = f"the key in ${variable}" if variable else "no key (set api_key_env to the variable holding one)"
        if status == 404:
            return (f"teacher endpoint {self._endpoint} answered HTTP 404: it has no model "
                    f"{self._teacher.model!r} (or base_url is wrong); check the teacher's model and base_url")
        return (f"teacher endpoint {self._endpoint} answered HTTP {status} ({ACCESS_STATUSES[status]}): it refused "
                f"{key}; check the key and that it is meant for this endpoint")


def body_cut_off(error: openai.APIConnectionError) -> bool:
    """Whether the connection broke inside a reply's body (headers received, then too few bytes)."""
    cause: BaseException | None = error
    seen: set[int] = set()
    while cause is not None and id(cause) not in seen:  # a chain can loop back on itself
        if isinstance(cause, aiohttp.ClientPayloadError):
            return True
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return False


def to_response(completion: object) -> TeacherResponse:
    """Read text, reasoning channel, usage and finish reason out of a chat-completion body.

    Raises:
        MalformedReplyError: for a body that is not a chat completion (wrong shape, or a usage count that is
            not a whole number).

    """
    if not isinstance(completion, dict):
        raise MalformedReplyError(f"response is not a chat completion: {str(completion)[:200]!r}")
    choices = completion.get("choices")
    choice = choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], dict) else {}
    message = choice.get("message")
    if not isinstance(message, dict):
        raise MalformedReplyError("response has no choices[0].message")
    text = message.get("content") or message.get("refusal") or ""
    if not isinstance(text, str):
        raise MalformedReplyError(f"message content is {type(text).__name__}, not text")
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    usage = completion.get("usage") if isinstance(completion.get("usage"), dict) else {}
    return TeacherResponse(
        text=text,
        reasoning_content=reasoning if isinstance(reasoning, str) else None,
        prompt_tokens=_token_count(usage, "prompt_tokens"),
        completion_tokens=_token_count(usage, "completion_tokens"),
        finish_reason=choice.get("finish_reason"),
    )


def _token_count(usage: dict, name: str) -> int:
    """``usage[name]`` as a count (0 when absent); anything but a whole number is a malformed reply."""
    value = usage.get(name) or 0
    whole = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if isinstance(value, bool) or not whole:
        raise MalformedReplyError(f"usage.{name} is {value!r}, not a whole number")
    return int(value)
