"""What both batch paths share: job passes that defer misses, request bodies, and ingesting returned lines.

A pass (:meth:`BatchRounds.pass_`) runs the job (:class:`~alttrain.execution.jobs.ClientJob`, partial) with a
:class:`~alttrain.execution.batch.deferred.DeferringClient`; the requests it defers are the next batch. Ingesting
(:meth:`BatchRounds.ingest`) puts each answered line in the response cache under its ``custom_id`` (the
cache key), and counts an error line, a line refused as unusable or foreign (another model's answer), or
a request without any line, as a failure of that request in ``RUN/batches.json``; a pass quarantines it
as ``teacher_error`` once it may not be resubmitted. One bad line never stops an ingest.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from alttrain.console import say
from alttrain.execution.batch.config import BatchSettings
from alttrain.execution.batch.deferred import DeferredRequest, DeferringClient
from alttrain.execution.batch.lines import input_keys, read_results
from alttrain.execution.batch.state import BatchAccounting, BatchRecord, BatchState, Mode
from alttrain.execution.jobs import ClientJob, Row
from alttrain.layout import BATCHES_FILE
from alttrain.llm.backends.openai_backend import PLACEHOLDER_API_KEY, OpenAIBackend
from alttrain.llm.cache import ResponseCache
from alttrain.llm.client import ClientStats, teacher_identity


@dataclass(frozen=True)
class BatchRun:
    """What the batch executor did: the rows (None: waiting), the accounting, and what is still pending."""

    rows: list[Row | None]  # one per record; every row, unless requests are pending (``--export``)
    stats: ClientStats  # the last pass's client counts (cache hits, failures)
    pass_s: float  # the last pass's duration
    accounting: BatchAccounting
    submitted: int  # requests submitted (or ingested, offline) by this invocation
    pending: int = 0  # requests written to ``input_file`` for `vllm run-batch`; their rows are not built yet
    input_file: Path | None = None


class BatchRounds:
    """One invocation of a batch path over one run directory.

    Args:
        records: the job's records.
        job: the work (its teacher's backend has a Batch API: checked by the executor).
        settings: the batch executor's options.
        run_dir: the run directory (``batches.json`` and ``batch/`` live there).
        cache: the open response cache.
        console: where progress lines go (None: nowhere).

    """

    def __init__(
        self, records: list[Row], job: ClientJob, settings: BatchSettings, run_dir: Path, cache: ResponseCache,
        console: Console | None,
    ) -> None:  # fmt: skip
        self.records, self.job, self.settings, self.run_dir = records, job, settings, run_dir
        self.cache, self.console = cache, console
        self.teacher = job.teacher
        self.identity = teacher_identity(self.teacher)
        self.state = BatchState.load(run_dir / BATCHES_FILE, self.identity, self.teacher.endpoint)
        self.state.discount = settings.discount
        self.secrets = tuple(s for s in (self.teacher.api_key(),) if s)
        self.models = (self.teacher.model, *settings.answer_models)  # an answer from any other is refused
        self.deferred: dict[str, DeferredRequest] = {}
        self.submitted = 0
        self.stats = ClientStats()
        self.pass_s = 0.0

    async def pass_(self) -> list[Row | None]:
        """Build every row the cache can answer; remember the requests the others wait for."""
        started = time.perf_counter()
        failed = self.state.final_failures(self.settings.max_resubmits)
        async with DeferringClient(self.teacher, self.cache, failed) as client:
            rows = await self.job.run(self.records, client, partial=True)
        self.deferred, self.stats, self.pass_s = client.deferred, client.stats, time.perf_counter() - started
        return rows

    async def bodies(self) -> dict[str, dict[str, object]]:
        """The chat body of every deferred request, as the ``openai`` backend posts it online."""
        backend = OpenAIBackend(self.teacher, api_key=PLACEHOLDER_API_KEY)  # builds bodies; sends nothing
        try:
            return {key: backend.request_body(item.request) for key, item in self.deferred.items()}
        finally:
            await backend.aclose()

    def new_record(
        self, mode: Mode, where: tuple[int, int, int], path: Path, sha256: str, keys: list[str]
    ) -> BatchRecord:
        """Record a batch (round, part, parts) of the requests ``keys``, written to ``path`` (not saved yet)."""
        resubmitted = sum(1 for key in keys if key in self.state.failures)
        relative = str(path.relative_to(self.run_dir))
        return self.state.add(BatchRecord(*where, mode, relative, sha256, len(keys), resubmitted))

    def ingest(self, record: BatchRecord, lines: Iterable[str], missing_reason: str) -> None:
        """Put the batch's answers in the cache; count failures (and requests without a line) per request."""
        expected = input_keys(self.run_dir / record.input_file)
        wanted, seen = set(expected), set()
        record.answered = record.failed = record.prompt_tokens = record.completion_tokens = 0
        unreadable = 0
        refused: dict[str, list[str]] = {}  # flaw -> the reason of each line refused for it
        for result in read_results(lines, self.secrets, self.models):
            if result is None:
                unreadable += 1
                continue
            if result.key not in wanted or result.key in seen:
                continue
            seen.add(result.key)
            if result.response is None:
                self.state.fail(result.key, result.failure or "no answer", result.transient)
                record.failed += 1
                if result.flaw is not None:
                    refused.setdefault(result.flaw, []).append(result.failure or result.flaw)
                continue
            record.answered += 1
            record.prompt_tokens += result.response.prompt_tokens
            record.completion_tokens += result.response.completion_tokens
            self.state.failures.pop(result.key, None)
            if result.key in self.deferred:  # else cached already (an ingest resumed after a kill)
                self.cache.put(result.key, self.identity, self.deferred[result.key].request_json, result.response)
        unanswered = [key for key in expected if key not in seen]
        for key in unanswered:
            self.state.fail(key, missing_reason, transient=True)
        record.unanswered = len(unanswered)
        if unreadable:
            record.errors.append(f"{unreadable} output lines could not be read")
        for flaw, reasons in sorted(refused.items()):
            record.errors.append(f"{len(reasons)} {flaw} lines refused (first: {reasons[0]})")
        record.ingested = True

    def result(self, rows: list[Row | None], pending: int = 0, input_file: Path | None = None) -> BatchRun:
        """What this invocation did."""
        return BatchRun(rows, self.stats, self.pass_s, self.state.accounting(), self.submitted, pending, input_file)

    def say(self, message: str) -> None:
        """Print a progress line when there is a console."""
        if self.console is not None:
            say(self.console, message)
