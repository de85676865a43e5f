"""``executor: {kind: batch, ...}``: the job's requests as Batch API batches, or as files for ``vllm run-batch``.

The job runs in passes with a client that answers from the cache and defers every miss; the deferred
requests go out as a round of batches (:mod:`alttrain.execution.batch.api_batches`) or, with ``files``
(``alttrain synthesize --export``/``--ingest``), as ``RUN/batch/vllm_input.jsonl`` for a local GPU
(:mod:`alttrain.execution.batch.files`). ``RUN/batches.json`` (:mod:`alttrain.execution.batch.state`) records
every batch and the accounting; :meth:`BatchExecutor.rows_written` closes its session.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel

from alttrain.errors import ConfigError
from alttrain.execution.base import Execution, Executor
from alttrain.execution.batch.config import BatchSettings
from alttrain.layout import BATCHES_FILE
from alttrain.llm.backends import backend_class
from alttrain.llm.config import TeacherConfig
from alttrain.scaleout.accounting import ScaleoutReport

if TYPE_CHECKING:
    from rich.console import Console

    from alttrain.execution.batch.rounds import BatchRun
    from alttrain.execution.jobs import ClientJob, Row, RowCallback
    from alttrain.llm.cache import ResponseCache

Files = Literal["export", "ingest"]  # --export: write the requests; --ingest: read vLLM's answers first


class BatchExecutor(Executor[BatchSettings]):
    """Rounds of batches until every row is built (or, with ``files``, until requests wait for `vllm run-batch`).

    Args:
        settings: the batch options.
        run_dir: the run directory (``batches.json`` and ``batch/`` live there).
        console: where progress lines go (None: nowhere).
        files: send nothing; ``export`` the uncached requests for `vllm run-batch`, or ``ingest`` its answers first.

    """

    kind = "batch"
    settings_class = BatchSettings
    streams_rows = False  # rows are built pass by pass; progress is one line per batch
    interactive = False  # a batch answers within a day

    def __init__(self, settings: BatchSettings, run_dir: Path, console: Console | None = None, *,
                 files: Files | None = None) -> None:  # fmt: skip
        super().__init__(settings, run_dir, console)
        self.files = files

    @classmethod
    def for_files(cls, settings: BaseModel, run_dir: Path, console: Console | None, files: Files) -> BatchExecutor:
        """The file path for `vllm run-batch`, with the configured batch options when the executor is this one."""
        return cls(settings if isinstance(settings, BatchSettings) else BatchSettings(), run_dir, console, files=files)

    @classmethod
    def teacher_problem(cls, teacher: TeacherConfig) -> str | None:
        """A batch carries the request bodies of a backend with a Batch API (``supports_batch``)."""
        if backend_class(teacher.backend).supports_batch:
            return None
        return f"needs a teacher backend with a Batch API, not {teacher.backend!r}"

    def run(self, records: list[Row], job: ClientJob, cache: ResponseCache, *,
            on_row: RowCallback | None = None) -> Execution:  # fmt: skip
        """Run the rounds; rows of requests still waiting (``files``) are None.

        Raises:
            ConfigError: the job's teacher has no Batch API.

        """
        if (problem := self.teacher_problem(job.teacher)) is not None:
            raise ConfigError(f"executor batch: {problem}")
        started = time.perf_counter()
        batch = asyncio.run(self._rounds(records, job, cache))
        report = None if batch.pending else ScaleoutReport(
            executor=self.kind, rows=len(records), requests_sent=batch.submitted, elapsed_s=round(batch.pass_s, 3))
        return Execution(batch.rows, batch.stats, time.perf_counter() - started, report, batch.accounting,
                         batch.submitted, batch.pending, batch.input_file)

    async def _rounds(self, records: list[Row], job: ClientJob, cache: ResponseCache) -> BatchRun:
        from alttrain.execution.batch.api_batches import ApiBatches
        from alttrain.execution.batch.files import FileBatches

        if self.files is not None:
            return await FileBatches(records, job, self.settings, self.run_dir, cache, self.console).run(
                self.files == "ingest")
        return await ApiBatches(records, job, self.settings, self.run_dir, cache, self.console).run()

    def rows_written(self) -> None:
        """End the session recorded in ``RUN/batches.json``: the next run forgets its failures."""
        from alttrain.execution.batch.state import BatchState

        BatchState.mark_finished(self.run_dir / BATCHES_FILE)

    @staticmethod
    def show(console: Console, execution: Execution) -> None:
        """The batch teacher's counts, tokens and discount."""
        from alttrain.execution.batch.view import show_batch_accounting

        if execution.batches is not None:
            show_batch_accounting(console, execution.batches)
