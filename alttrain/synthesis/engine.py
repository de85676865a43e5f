"""The synthesis engine: every prompt row becomes exactly one ``ok`` or ``quarantined`` trace row.

Per row: resolve its language (:func:`alttrain.languages.row_language`, recorded in the row; its markers
and the language of the teacher's request follow it), choose the mode (``auto`` rewrites where
``original_reasoning`` exists), build the messages, ask the teacher, read the reply (JSON ->
:class:`TraceFields` -> ``spec.render`` with structured output, ``spec.parse`` without), and validate it
against the row's label. A reply that
fails (garbage, wrong schema, refusal-shaped junk, empty, wrong verdict) is re-asked with the
complaints up to ``max_repair_attempts`` times, then quarantined with its reason and raw reply.
A teacher that keeps failing quarantines the row too; nothing raises out of a row but a bug.

Rows run concurrently on a pool of workers; the client bounds what is in flight. Offline (re-parse)
runs answer from the cache only and fail naming the rows whose requests it does not hold; a ``partial``
pass (the batch executor's, :mod:`alttrain.execution.batch`) leaves those rows out instead.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import polars as pl

from alttrain.errors import CacheMissError, ConfigError, TeacherAccessError
from alttrain.execution.jobs import RowCallback
from alttrain.execution.local import with_stale_note
from alttrain.languages import row_language
from alttrain.llm.cache import ResponseCache
from alttrain.llm.client import ClientStats, TeacherClient
from alttrain.llm.repair import Failure, Reply, ReplyParseError, ask_until_parsed
from alttrain.llm.types import TeacherResponse
from alttrain.policy import Resolution, load_policy
from alttrain.records import PROMPT_SCHEMA, STATUS_OK, STATUS_QUARANTINED, SYNTHESIZED_SCHEMA
from alttrain.structure import LABELS, Label, StructureSpec, TraceFields, TraceParseError
from alttrain.synthesis.config import SynthesisConfig
from alttrain.synthesis.messages import Mode, TraceMessages
from alttrain.synthesis.trace_json import parse_trace_json, trace_schema
from alttrain.wrapped import quote_problem

#: workers per concurrency slot: spare workers keep slots busy while others sleep in backoff
WORKERS_PER_SLOT = 2
#: allocations between young-generation collections while rows run (Python's default is 700)
GC_YOUNG_THRESHOLD = 10_000
REASON_TEACHER_ERROR = "teacher_error"
REASON_INVALID = "invalid_trace"
REASON_BAD_INPUT = "bad_input"


@dataclass(frozen=True)
class SynthesisOutcome:
    """The synthesized rows (in prompt order) and what the client did to get them."""

    frame: pl.DataFrame
    stats: ClientStats
    elapsed_s: float
    stale_cache_entries: int = 0  # cached answers under an older cache-key version (never reused)
    unfinished: tuple[str, ...] = ()  # a partial pass: ids of the rows left out (a request not cached yet)


def choose_mode(configured: str, record: Mapping[str, Any]) -> Mode:
    """``rewrite`` where configured, or under ``auto`` where the row has an original trace."""
    if configured == "auto":
        return "rewrite" if record.get("original_reasoning") else "generate"
    return "rewrite" if configured == "rewrite" else "generate"


def input_problem(record: Mapping[str, Any], mode: Mode, max_chars: int) -> str | None:
    """Why a prompt record cannot be sent at all (quarantined without asking), or None."""
    prompt = record.get("prompt") or ""
    if not prompt.strip():
        return "empty prompt"
    size = len(prompt) + len(record.get("original_reasoning") or "") + len(record.get("original_answer") or "")
    if size > max_chars:
        return f"prompt and original trace are {size} characters, over synthesis.max_prompt_chars ({max_chars})"
    if record.get("label") not in LABELS:
        return f"label {record.get('label')!r} is not one of {list(LABELS)}"
    if mode == "rewrite" and not record.get("original_reasoning"):
        return "mode 'rewrite' needs original_reasoning"
    return None


def read_trace(
    response: TeacherResponse,
    spec: StructureSpec,
    label: Label,
    policy: Resolution,
    asked: tuple[str, str | None],
    *,
    structured: bool,
    language: str,
) -> TraceFields:
    """Read a reply into fields; validate their rendering (against the row's policy mode) and the quote.

    ``asked``: the prompt and the request the source gives beside it (or None); ``structured``: the reply is
    JSON (structured output) rather than trace text; ``language``: the row's, whose markers a text reply is
    parsed in and the fields are rendered in.

    Raises:
        ReplyParseError: with every complaint (a cut-off reply, parse errors, structure violations, a
            quote that is not in the prompt, an unnamed wrapped request: :func:`alttrain.wrapped.quote_problem`).

    """
    complaints: list[str] = []
    if response.finish_reason == "length":
        complaints.append("the reply was cut off at max_tokens: write less")
    try:
        fields = parse_trace_json(response.text) if structured else spec.parse(response.text, language)
    except ReplyParseError as error:
        raise ReplyParseError(complaints + error.complaints) from None
    except TraceParseError as error:
        raise ReplyParseError(complaints + [str(violation) for violation in error.violations]) from None
    problems = [str(v) for v in spec.validate(spec.render(fields, language), label, policy.mode, language)]
    if (quote := quote_problem(fields.understanding, *asked)) is not None:
        problems.append(quote)
    if problems:
        raise ReplyParseError(complaints + problems)
    return fields


class TraceSynthesizer:
    """Turns prompt records into trace rows with one teacher client.

    Args:
        config: the ``synthesis`` config section.
        spec: the structure every trace is rendered in and validated against.
        client: the teacher client (entered; possibly offline).

    Raises:
        ConfigError: for modes self and restyle (:mod:`alttrain.synthesis.own`).

    """

    def __init__(self, config: SynthesisConfig, spec: StructureSpec, client: TeacherClient) -> None:
        if config.own_traces:
            raise ConfigError(f"mode {config.mode!r} is the model's own traces: alttrain.synthesis.own writes them")
        self._config = config
        self._spec = spec
        self._client = client
        self._structured = client.structured
        self._schema = trace_schema(config.max_field_chars) if self._structured else None
        self._messages = TraceMessages(spec, structured=self._structured, max_chars=config.max_field_chars)
        self._sampling = config.teacher.sampling.to_params()
        self._policy = load_policy(config.policy)

    async def synthesize_row(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """Synthesize one row; a failure becomes a quarantined row, never an exception.

        Raises:
            CacheMissError: offline, when a request of this row is not cached.

        """
        mode = choose_mode(self._config.mode, record)
        policy = self._policy.resolve(record.get("category"), record.get("label") or "")
        language = row_language(record.get("language"), str(record.get("prompt") or ""))
        record = {**record, "policy_category": policy.name, "policy_mode": policy.mode, "language": language}
        row = self._base_row(record, mode)
        problem = input_problem(record, mode, self._config.max_prompt_chars)
        if problem is not None:
            return _quarantine(row, f"{REASON_BAD_INPUT}: {problem}", None)
        initial = self._messages.initial(record, mode, policy)

        def messages(failures: list[Failure]) -> list[dict[str, str]]:
            if not failures:
                return initial
            return self._messages.repair(initial, failures[-1].reply, failures[-1].complaints)

        reply = await ask_until_parsed(
            self._client,
            messages,
            lambda response: read_trace(
                response, self._spec, record["label"], policy, (record["prompt"], record.get("request")),
                structured=self._structured, language=language,
            ),
            self._sampling,
            1 + self._config.max_repair_attempts,
            json_schema=self._schema,
            record=dict(record),
        )
        if reply.status == "ok":
            assert reply.value is not None
            return _accept(row, reply.value, self._spec.render(reply.value, language), reply)
        if reply.status == "error":
            return _quarantine(row, f"{REASON_TEACHER_ERROR}: {reply.error}", reply)
        reason = f"{REASON_INVALID}: after {len(reply.responses)} attempts: {'; '.join(reply.complaints)}"
        return _quarantine(row, reason, reply)

    def _base_row(self, record: Mapping[str, Any], mode: Mode) -> dict[str, Any]:
        """Start a row: the prompt columns plus how the row is made (mode, teacher, templates)."""
        row = {column: record.get(column) for column in (*PROMPT_SCHEMA, "policy_category", "policy_mode")}
        version = self._messages.version(mode, record["language"])
        row.update(mode=mode, teacher=self._client.identity, template_version=version)
        return row


def _accept(row: dict[str, Any], fields: TraceFields, trace: str, reply: Reply[TraceFields]) -> dict[str, Any]:
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
    return _with_replies(row, reply)


def _quarantine(row: dict[str, Any], reason: str, reply: Reply[TraceFields] | None) -> dict[str, Any]:
    """Fill a ``quarantined`` row with its reason (and the last raw reply, when there was one)."""
    row.update(status=STATUS_QUARANTINED, reason=reason)
    return _with_replies(row, reply)


def _with_replies(row: dict[str, Any], reply: Reply[TraceFields] | None) -> dict[str, Any]:
    """Add the last raw reply, its reasoning channel, the token counts and the answered attempts."""
    responses = reply.responses if reply is not None else []
    last = responses[-1] if responses else None
    row.update(
        raw_completion=last.text if last else None,
        reasoning_content=last.reasoning_content if last else None,
        prompt_tokens=sum(response.prompt_tokens for response in responses),
        completion_tokens=sum(response.completion_tokens for response in responses),
        attempts=len(responses),
    )
    return row


@contextmanager
def steady_collector() -> Iterator[None]:
    """Keep the garbage collector from stalling the event loop while rows run; restore it after.

    With the defaults, hundreds of requests in flight make the collector run often, and each full
    collection walks every object the process holds (modules, the SDK's models, the prompt records)
    while every in-flight reply waits. What exists before the run is never garbage, so it is frozen,
    and young objects are collected every 10,000 allocations instead of 700
    (``bench/teacher_throughput.py`` measures the effect).
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
    *,
    partial: bool = False,
) -> SynthesisOutcome:
    """Synthesize every prompt row with ``client`` (already entered); rows keep the prompts' order.

    A teacher that refuses the run itself (:class:`~alttrain.errors.TeacherAccessError`: a wrong key,
    an unknown model) stops it: no worker takes another row, the requests in flight finish, and the
    error is raised. Answers received before are in the cache, so the next run resumes.

    With ``partial``, rows whose client raised :class:`~alttrain.errors.CacheMissError` are left out of
    the frame and named in :attr:`SynthesisOutcome.unfinished` instead of failing the pass.

    Raises:
        CacheMissError: offline, naming how many rows (and the first ids) the cache cannot answer.
        TeacherAccessError: the first one, after the requests in flight have ended.

    """
    started = time.perf_counter()
    synthesizer = TraceSynthesizer(config, spec, client)
    records = prompts.to_dicts()
    results: list[dict[str, Any] | None] = [None] * len(records)
    missing: list[str] = []
    refused: list[TeacherAccessError] = []
    pending = iter(range(len(records)))  # shared by the workers: each index is taken once

    async def worker() -> None:
        for index in pending:
            if refused:
                return
            try:
                row = await synthesizer.synthesize_row(records[index])
            except CacheMissError:
                missing.append(str(records[index]["id"]))
                continue
            except TeacherAccessError as error:
                refused.append(error)
                return
            results[index] = row
            if on_row is not None:
                on_row(row, client.stats)

    workers = min(len(records), config.teacher.concurrency * WORKERS_PER_SLOT)
    with steady_collector():
        await asyncio.gather(*(worker() for _ in range(workers)))
    if refused:
        raise refused[0]
    if missing and not partial:
        raise CacheMissError(
            f"{len(missing)} of {len(records)} prompts have no cached response (first ids: "
            f"{', '.join(sorted(missing)[:5])}); run `alttrain synthesize` without --reparse to fill it"
        )
    frame = pl.DataFrame([row for row in results if row is not None], schema=SYNTHESIZED_SCHEMA)
    unfinished = tuple(str(records[index]["id"]) for index, row in enumerate(results) if row is None)
    elapsed = time.perf_counter() - started
    return SynthesisOutcome(frame=frame, stats=client.stats, elapsed_s=elapsed, unfinished=unfinished)


async def synthesize_cached(
    prompts: pl.DataFrame,
    config: SynthesisConfig,
    spec: StructureSpec,
    cache_path: Path,
    *,
    offline: bool = False,
    on_row: RowCallback | None = None,
) -> SynthesisOutcome:
    """Open the cache and a teacher client (offline: cache only), then :func:`synthesize`.

    Raises:
        CacheMissError: offline, for rows the cache cannot answer (saying so when its entries were
            written under an older cache-key version, which never match).

    """
    with ResponseCache(cache_path) as cache:
        stale = cache.stale_entries()
        try:
            async with TeacherClient(config.teacher, cache, offline=offline) as client:
                outcome = await synthesize(prompts, config, spec, client, on_row)
        except CacheMissError as error:
            raise with_stale_note(error, cache) from None
    return replace(outcome, stale_cache_entries=stale)
