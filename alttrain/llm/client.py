"""The one teacher client: backend choice, cache, concurrency, rate limits, retries and token accounting.

Every request goes through :meth:`TeacherClient.complete` (or, for a list answered together,
:meth:`TeacherClient.complete_many`): a cache hit returns at once and sends nothing; otherwise the
request passes the endpoint's circuit, waits for a concurrency slot and the rate limiters, goes to the
backend, is retried on :class:`TransientTeacherError` up to ``max_retries``
times (the wait is :func:`~alttrain.llm.retry.retry_delay`'s, spent without a slot; then the retry takes
the next free slot, ahead of first tries), and its response is committed to the cache as soon as it
returns. Offline clients (``--reparse``) answer from the cache only. A model under test is a backend
like any other (``transformers``, ``vllm`` with a LoRA adapter, an endpoint): the same cache, keys and
accounting.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol

from aiolimiter import AsyncLimiter

from alttrain.errors import CacheMissError, ConfigError, TeacherAccessError
from alttrain.llm.backends import backend_class
from alttrain.llm.backends.base import Outcome, TeacherBackend
from alttrain.llm.cache import ResponseCache, keyed_request
from alttrain.llm.config import TeacherConfig
from alttrain.llm.retry import EndpointCircuit, blames_server, retry_delay
from alttrain.llm.slots import Slots
from alttrain.llm.types import TeacherError, TeacherRequest, TeacherResponse, TransientTeacherError

#: rough characters per token, to charge prompts against ``tokens_per_minute`` before they are sent
CHARS_PER_TOKEN = 4


def make_backend(teacher: TeacherConfig) -> TeacherBackend:
    """Build the configured backend (not started)."""
    return backend_class(teacher.backend)(teacher)


def teacher_identity(teacher: TeacherConfig) -> str:
    """The teacher as the cache key and every row name it (known without a backend): ``backend:model`` mostly.

    A model under test loaded from a checkpoint adds hashes of its files (:mod:`alttrain.llm.backends.checkpoint`).
    """
    return backend_class(teacher.backend).identity(teacher)


@dataclass
class ClientStats:
    """What a client did: requests sent and answered, cache hits, retries, failures and tokens sent."""

    sent: int = 0
    answered: int = 0
    cache_hits: int = 0
    retries: int = 0
    failures: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0


class PerMinuteLimit:
    """A per-minute budget enforced over windows of at least a second, so bursts stay small.

    Args:
        per_minute: the budget (requests or tokens per minute).

    """

    def __init__(self, per_minute: int) -> None:
        self.window = max(1.0, 60.0 / per_minute)  # seconds
        self._capacity = per_minute * self.window / 60.0
        self._limiter = AsyncLimiter(self._capacity, self.window)
        self._owed = 0.0

    @property
    def owed(self) -> float:
        """Use recorded by :meth:`owe` that no :meth:`charge` has paid yet."""
        return self._owed

    def owe(self, amount: float) -> None:
        """Record use known only afterwards (completion tokens); the next :meth:`charge` pays it."""
        self._owed += amount

    async def charge(self, amount: float) -> None:
        """Wait until ``amount`` plus what is owed fits the budget (large charges are paid in parts)."""
        amount, self._owed = amount + self._owed, 0.0
        while amount > 0:
            part = min(amount, self._capacity)
            await self._limiter.acquire(part)
            amount -= part


class Limit(Protocol):
    """A budget a client's sends are charged against: :class:`PerMinuteLimit`, or one shared with other clients."""

    def owe(self, amount: float) -> None:
        """Record use known only afterwards; the next :meth:`charge` pays it."""

    async def charge(self, amount: float) -> None:
        """Wait until ``amount`` plus what is owed fits the budget."""


@dataclass(frozen=True)
class RateLimits:
    """The budgets a client's sends pass: requests and tokens (None: unlimited)."""

    requests: Limit | None = None
    tokens: Limit | None = None

    @classmethod
    def of(cls, teacher: TeacherConfig) -> RateLimits:
        """The client's own budgets, from ``requests_per_minute`` and ``tokens_per_minute``."""
        requests, tokens = teacher.requests_per_minute, teacher.tokens_per_minute
        return cls(PerMinuteLimit(requests) if requests else None, PerMinuteLimit(tokens) if tokens else None)


class TeacherClient:
    """One teacher, reached through its configured backend, with a response cache in front.

    Args:
        teacher: the teacher config.
        cache: where responses are read and written; None caches nothing.
        offline: answer from ``cache`` only and never build a backend (raises :class:`CacheMissError`
            on a miss).
        limits: the budgets its sends pass; None: its own, from ``teacher`` (:meth:`RateLimits.of`). Clients
            that share an endpoint's budget get one shared :class:`RateLimits` (the Ray executor's).

    Use as ``async with TeacherClient(...) as client:`` so the backend is started and closed.

    Raises:
        ConfigError: ``teacher.checkpoint`` is set for a backend that loads no checkpoint (``supports_lora``).

    """

    def __init__(
        self, teacher: TeacherConfig, cache: ResponseCache | None, *, offline: bool = False,
        limits: RateLimits | None = None,
    ) -> None:  # fmt: skip
        if offline and cache is None:
            raise ValueError("an offline teacher client needs a cache")
        self.teacher = teacher
        self.identity = teacher_identity(teacher)
        self.stats = ClientStats()
        backend = backend_class(teacher.backend)
        if teacher.checkpoint is not None and not backend.supports_lora:
            raise ConfigError(f"backend {teacher.backend!r} loads no checkpoint or adapter; drop 'checkpoint'")
        self._key_options = backend.key_options(teacher)
        self._record_fields = backend.record_fields
        self._cache = cache
        self._backend = None if offline else make_backend(teacher)
        self._slots = Slots(teacher.concurrency)
        self.circuit = EndpointCircuit(teacher.circuit)  # the client's one endpoint
        limits = RateLimits.of(teacher) if limits is None else limits
        self._request_limit, self._token_limit = limits.requests, limits.tokens
        self._refused: TeacherAccessError | None = None  # once the endpoint refused the run, nothing more is sent

    @property
    def structured(self) -> bool:
        """Whether requests ask for JSON-schema output (configured and supported by the backend)."""
        backend = backend_class(self.teacher.backend)
        return self.teacher.structured_output and backend.supports_structured_output

    @property
    def supports_choices(self) -> bool:
        """Whether the backend answers a request with ``choices`` (the model's likelihood picks one)."""
        return backend_class(self.teacher.backend).supports_choices

    async def __aenter__(self) -> TeacherClient:
        if self._backend is not None:
            await self._backend.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._backend is not None:
            await self._backend.aclose()

    async def complete(self, request: TeacherRequest) -> TeacherResponse:
        """Answer ``request`` from the cache, or from the backend (then cache it).

        Raises:
            TransientTeacherError: still failing after ``max_retries`` retries.
            PermanentTeacherError: at the first permanent failure.
            CacheMissError: offline, when the cache does not hold the request.
            TeacherAccessError: the endpoint refused the run (key, access, model); every later request
                raises it too, without being sent.
            ConfigError: the request has ``choices`` and the backend takes none (nothing is sent).

        """
        self._check_choices([request])
        key, request_json = self.cache_key(request)
        if self._cache is not None:
            cached = self._cache.get(key)
            if cached is not None:
                self.stats.cache_hits += 1
                return cached
        if self._backend is None:
            raise CacheMissError(f"no cached response for request {key}")
        response = await self._send_with_retries(self._backend, request)
        if self._cache is not None:
            self._cache.put(key, self.identity, request_json, response)
        return response

    async def complete_many(self, requests: list[TeacherRequest]) -> list[Outcome | CacheMissError]:
        """Answer every request, in order: from the cache first, the rest through the backend together.

        The misses go to the backend's ``complete_many`` (by default each sent as :meth:`complete` sends it;
        transformers decodes them in padded batches); each answer is cached as it arrives. A request that
        failed at the backend gives its :class:`TeacherError`, and offline a miss its :class:`CacheMissError`,
        in its place.

        Raises:
            TeacherAccessError: the endpoint refused the run.
            ConfigError: a request has ``choices`` and the backend takes none (nothing is sent).

        """
        self._check_choices(requests)
        keyed = [self.cache_key(request) for request in requests]
        outcomes: list[Outcome | CacheMissError | None] = [None] * len(requests)
        for index, (key, _) in enumerate(keyed):
            cached = self._cache.get(key) if self._cache is not None else None
            if cached is not None:
                self.stats.cache_hits += 1
                outcomes[index] = cached
        missing = [index for index, outcome in enumerate(outcomes) if outcome is None]
        if self._backend is None:
            for index in missing:
                outcomes[index] = CacheMissError(f"no cached response for request {keyed[index][0]}")
        elif missing:
            backend, through_send = self._backend, set()

            async def send(request: TeacherRequest) -> TeacherResponse:
                through_send.add(id(request))
                return await self._send_with_retries(backend, request)

            pending = [requests[index] for index in missing]
            async for position, outcome in backend.complete_many(pending, send):
                index = missing[position]
                if id(pending[position]) not in through_send:  # answered by the backend itself: count it here
                    self._count(outcome)
                if isinstance(outcome, TeacherResponse) and self._cache is not None:
                    self._cache.put(keyed[index][0], self.identity, keyed[index][1], outcome)
                outcomes[index] = outcome
        return [outcome for outcome in outcomes if outcome is not None]

    def _count(self, outcome: Outcome) -> None:
        """Count one request a backend answered together with others (sent once, answered or failed)."""
        self.stats.sent += 1
        if isinstance(outcome, TeacherError):
            self.stats.failures += 1
            return
        self.stats.answered += 1
        self.stats.prompt_tokens += outcome.prompt_tokens
        self.stats.completion_tokens += outcome.completion_tokens

    def _check_choices(self, requests: list[TeacherRequest]) -> None:
        """Refuse requests with ``choices`` unless the backend answers them.

        Raises:
            ConfigError: a request has ``choices`` and the backend takes none.

        """
        if not self.supports_choices and any(request.choices is not None for request in requests):
            raise ConfigError(f"backend {self.teacher.backend!r} cannot pick among choices (a request with "
                              "'choices' needs a backend with supports_choices, such as transformers)")  # fmt: skip

    def cache_key(self, request: TeacherRequest) -> tuple[str, str]:
        """The cache key of ``request`` for this teacher, and the canonical JSON it hashes."""
        return keyed_request(self.identity, request, options=self._key_options, record_fields=self._record_fields)

    async def _send_with_retries(self, backend: TeacherBackend, request: TeacherRequest) -> TeacherResponse:
        """Send until an answer, a permanent error, or the last retry; sleep between tries without a slot."""
        attempt = 0
        server_failures = 0  # this request's tries that failed on the server's side so far
        while True:
            try:
                return await self._send_once(backend, request, retry=attempt > 0)
            except TransientTeacherError as error:
                if attempt >= self.teacher.max_retries:
                    self.stats.failures += 1
                    raise
                delay = retry_delay(self.teacher, error, server_failures)
                server_failures += blames_server(error)
            except Exception:
                self.stats.failures += 1
                raise
            attempt += 1
            self.stats.retries += 1
            await asyncio.sleep(delay)

    async def _send_once(self, backend: TeacherBackend, request: TeacherRequest, *, retry: bool) -> TeacherResponse:
        """One try: pass the circuit, take a slot (a retry before first tries), pass the rate limiters, send."""
        async with self.circuit.passage(), self._slots.hold(retry=retry):
            if self._refused is not None:
                raise self._refused
            if self._request_limit is not None:
                await self._request_limit.charge(1)
            if self._token_limit is not None:
                await self._token_limit.charge(self._prompt_estimate(request))
            self.stats.sent += 1
            try:
                response = await backend.complete(request)
            except TeacherAccessError as error:
                self._refused = error
                raise
        self.stats.answered += 1
        self.stats.prompt_tokens += response.prompt_tokens
        self.stats.completion_tokens += response.completion_tokens
        if self._token_limit is not None:
            self._token_limit.owe(response.completion_tokens)  # paid by the next send, not by this return
        return response

    @staticmethod
    def _prompt_estimate(request: TeacherRequest) -> int:
        """Estimated prompt tokens, from the characters of the messages."""
        return max(1, sum(len(message["content"]) for message in request.messages) // CHARS_PER_TOKEN)
