"""The synthesis engine: every prompt row becomes exactly one ``ok`` or ``quarantined`` trace row.

Per row: choose the mode (``auto`` rewrites where ``original_reasoning`` exists), build the
messages, ask the teacher, read the reply (JSON -> :class:`TraceFields` -> ``spec.render`` with
structured output, ``spec.parse`` without), and validate it against the row's label. A reply that
fails (garbage, wrong schema, refusal-shaped junk, empty, wrong verdict) is re-asked with the
complaints up to ``max_repair_attempts`` times, then quarantined with its reason and raw reply.
A teacher that keeps failing quarantines the row too; nothing raises out of a row but a bug.

Rows run concurrently on a pool of workers; the client bounds what is in flight. Offline (re-parse)
runs answer from the cache only and fail naming the rows whose requests it does not hold.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import polars as pl

from alttrain.records import PROMPT_SCHEMA, STATUS_OK, STATUS_QUARANTINED, SYNTHESIZED_SCHEMA
from alttrain.structure import LABELS, Label, StructureSpec, TraceFields, TraceParseError
from alttrain.synthesis.backends.base import SamplingParams, TeacherError, TeacherRequest, TeacherResponse
from alttrain.synthesis.cache import ResponseCache
from alttrain.synthesis.client import CacheMissError, ClientStats, TeacherClient
from alttrain.synthesis.config import SynthesisConfig
from alttrain.synthesis.messages import Mode, TraceMessages
from alttrain.synthesis.trace_json import TraceJSONError, parse_trace_json, trace_schema

#: workers per concurrency slot: spare workers keep slots busy while others sleep in backoff
WORKERS_PER_SLOT = 2
#: allocations between young-generation collections while rows run (Python's default is 700)
GC_YOUNG_THRESHOLD = 10_000
REASON_TEACHER_ERROR = "teacher_error"
REASON_INVALID = "invalid_trace"
REASON_BAD_INPUT = "bad_input"

RowCallback = Callable[[Mapping[str, Any], ClientStats], None]  # each finished row, with the client's counts


@dataclass(frozen=True)
class SynthesisOutcome:
    """The synthesized rows (in prompt order) and what the client did to get them."""

    frame: pl.DataFrame
    stats: ClientStats
    elapsed_s: float


@dataclass
class _Conversation:
    """What the attempts on one row added up to."""

    attempts: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    last: TeacherResponse | None = None

    def add(self, response: TeacherResponse) -> None:
        """Count one answered attempt."""
        self.attempts += 1
        self.prompt_tokens += response.prompt_tokens
        self.completion_tokens += response.completion_tokens
        self.last = response


def choose_mode(configured: str, record: Mapping[str, Any]) -> Mode:
    """``rewrite`` where configured, or under ``auto`` where the row has an original trace."""
    if configured == "auto":
        return "rewrite" if record.get("original_reasoning") else "generate"
    return "rewrite" if configured == "rewrite" else "generate"


def input_problem(record: Mapping[str, Any], mode: Mode) -> str | None:
    """Why a prompt record cannot be sent at all (quarantined without asking), or None."""
    if not (record.get("prompt") or "").strip():
        return "empty prompt"
    if record.get("label") not in LABELS:
        return f"label {record.get('label')!r} is not one of {list(LABELS)}"
    if mode == "rewrite" and not record.get("original_reasoning"):
        return "mode 'rewrite' needs original_reasoning"
    return None


class TraceSynthesizer:
    """Turns prompt records into trace rows with one teacher client.

    Args:
        config: the ``synthesis`` config section.
        spec: the structure every trace is rendered in and validated against.
        client: the teacher client (entered; possibly offline).

    """

    def __init__(self, config: SynthesisConfig, spec: StructureSpec, client: TeacherClient) -> None:
        self._config = config
        self._spec = spec
        self._client = client
        self._structured = client.structured
        self._schema = trace_schema(config.max_field_chars) if self._structured else None
        self._messages = TraceMessages(spec, structured=self._structured, max_chars=config.max_field_chars)
        self._sampling = config.teacher.sampling.to_params()

    async def synthesize_row(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """Synthesize one row; a failure becomes a quarantined row, never an exception.

        Raises:
            CacheMissError: offline, when a request of this row is not cached.

        """
        mode = choose_mode(self._config.mode, record)
        row = self._base_row(record, mode)
        problem = input_problem(record, mode)
        if problem is not None:
            return _quarantine(row, f"{REASON_BAD_INPUT}: {problem}", _Conversation())
        initial = self._messages.initial(record, mode)
        messages = initial
        conversation = _Conversation()
        complaints: list[str] = []
        for attempt in range(1 + self._config.max_repair_attempts):
            sampling = _attempt_sampling(self._sampling, attempt)
            request = TeacherRequest(messages, sampling, record=dict(record), json_schema=self._schema)
            try:
                response = await self._client.complete(request)
            except TeacherError as error:
                return _quarantine(row, f"{REASON_TEACHER_ERROR}: {error}", conversation)
            conversation.add(response)
            fields, complaints = self._read(response, record["label"])
            if fields is not None:
                return _accept(row, fields, self._spec.render(fields), conversation)
            messages = self._messages.repair(initial, response.text, complaints)
        reason = f"{REASON_INVALID}: after {conversation.attempts} attempts: {'; '.join(complaints)}"
        return _quarantine(row, reason, conversation)

    def _read(self, response: TeacherResponse, label: Label) -> tuple[TraceFields | None, list[str]]:
        """Read a reply into fields and validate their rendering; return the fields, or every complaint."""
        complaints: list[str] = []
        if response.finish_reason == "length":
            complaints.append("the reply was cut off at max_tokens: write less")
        try:
            fields = parse_trace_json(response.text) if self._structured else self._spec.parse(response.text)
        except TraceJSONError as error:
            return None, complaints + error.complaints
        except TraceParseError as error:
            return None, complaints + [str(violation) for violation in error.violations]
        violations = self._spec.validate(self._spec.render(fields), label)
        if violations:
            return None, complaints + [str(violation) for violation in violations]
        return fields, []

    def _base_row(self, record: Mapping[str, Any], mode: Mode) -> dict[str, Any]:
        """Start a row: the prompt columns plus how the row is made (mode, teacher, templates)."""
        row = {column: record.get(column) for column in PROMPT_SCHEMA}
        row.update(mode=mode, teacher=self._client.identity, template_version=self._messages.version(mode))
        return row


def _attempt_sampling(sampling: SamplingParams, attempt: int) -> SamplingParams:
    """Sampling for the n-th attempt on a row: the seed moves on, so a repeated repair is a new sample.

    (With the same seed, a teacher that repeated its reply would repeat it again, and the cache would
    answer the identical request without asking.)
    """
    return sampling if sampling.seed is None or attempt == 0 else replace(sampling, seed=sampling.seed + attempt)


def _accept(
    row: dict[str, Any], fields: TraceFields, trace: str, conversation: _Conversation
) -> dict[str, Any]:
    """Fill an ``ok`` row."""
    row.update(
        status=STATUS_OK,
        reason=None,
        understanding=fields.understanding,
        assessment=fields.assessment,
        verdict=fields.verdict,
        reasoning=fields.reasoning,
        answer=fields.answer,
        trace=trace,
    )
    return _with_conversation(row, conversation)


def _quarantine(row: dict[str, Any], reason: str, conversation: _Conversation) -> dict[str, Any]:
    """Fill a ``quarantined`` row with its reason (and the last raw reply, when there was one)."""
    row.update(status=STATUS_QUARANTINED, reason=reason)
    return _with_conversation(row, conversation)


def _with_conversation(row: dict[str, Any], conversation: _Conversation) -> dict[str, Any]:
    """Add the raw reply, reasoning channel, token counts and attempts."""
    last = conversation.last
    row.update(
        raw_completion=last.text if last else None,
        reasoning_content=last.reasoning_content if last else None,
        prompt_tokens=conversation.prompt_tokens,
        completion_tokens=conversation.completion_tokens,
        attempts=conversation.attempts,
    )
    return row


@contextmanager
def steady_collector() -> Iterator[None]:
    """Keep the garbage collector from stalling the event loop while rows run; restore it after.

    Measured at 256 in flight (bench/teacher_throughput.py): with the defaults the collector ran
    ~900 times during 8,192 requests, and each full collection walked every object the process
    holds (modules, the SDK's models, the prompt records), stalling the loop up to ~140 ms while
    every in-flight reply waited. Freezing what exists before the run (it is never garbage) and
    collecting young objects every 10,000 allocations instead of 700 cut that to ~20 collections
    and ~50 ms in all, and the engine's throughput rose ~6%.
    """
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


async def synthesize(
    prompts: pl.DataFrame,
    config: SynthesisConfig,
    spec: StructureSpec,
    client: TeacherClient,
    on_row: RowCallback | None = None,
) -> SynthesisOutcome:
    """Synthesize every prompt row with ``client`` (already entered); rows keep the prompts' order.

    Raises:
        CacheMissError: offline, naming how many rows (and the first ids) the cache cannot answer.

    """
    started = time.perf_counter()
    synthesizer = TraceSynthesizer(config, spec, client)
    records = prompts.to_dicts()
    results: list[dict[str, Any] | None] = [None] * len(records)
    missing: list[str] = []
    pending = iter(range(len(records)))  # shared by the workers: each index is taken once

    async def worker() -> None:
        for index in pending:
            try:
                row = await synthesizer.synthesize_row(records[index])
            except CacheMissError:
                missing.append(str(records[index]["id"]))
                continue
            results[index] = row
            if on_row is not None:
                on_row(row, client.stats)

    workers = min(len(records), config.teacher.concurrency * WORKERS_PER_SLOT)
    with steady_collector():
        await asyncio.gather(*(worker() for _ in range(workers)))
    if missing:
        raise CacheMissError(
            f"{len(missing)} of {len(records)} prompts have no cached response (first ids: "
            f"{', '.join(sorted(missing)[:5])}); run `alttrain synthesize` without --reparse to fill it"
        )
    frame = pl.DataFrame(results, schema=SYNTHESIZED_SCHEMA)
    return SynthesisOutcome(frame=frame, stats=client.stats, elapsed_s=time.perf_counter() - started)


async def synthesize_cached(
    prompts: pl.DataFrame,
    config: SynthesisConfig,
    spec: StructureSpec,
    cache_path: Path,
    *,
    offline: bool = False,
    on_row: RowCallback | None = None,
) -> SynthesisOutcome:
    """Open the cache and a teacher client (offline: cache only), then :func:`synthesize`."""
    with ResponseCache(cache_path) as cache:
        async with TeacherClient(config.teacher, cache, offline=offline) as client:
            return await synthesize(prompts, config, spec, client, on_row)
