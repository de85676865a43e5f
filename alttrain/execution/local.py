"""``executor: {kind: local}``: the job in this process, through one teacher client over the run's cache."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict

from alttrain.errors import CacheMissError
from alttrain.execution.base import Execution, Executor
from alttrain.llm.cache import CACHE_KEY_VERSION, ResponseCache
from alttrain.llm.client import ClientStats, TeacherClient
from alttrain.scaleout.accounting import ScaleoutReport

if TYPE_CHECKING:
    from rich.console import Console

    from alttrain.execution.jobs import ClientJob, Row, RowCallback


class LocalSettings(BaseModel):
    """``executor: {kind: local}`` (the default): no options."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["local"] = "local"


class LocalExecutor(Executor[LocalSettings]):
    """One client in this process; ``offline``: answers from the cache alone and sends nothing (``--reparse``)."""

    kind = "local"
    settings_class = LocalSettings

    def __init__(self, settings: LocalSettings, run_dir: Path, console: Console | None = None, *,
                 offline: bool = False) -> None:  # fmt: skip
        super().__init__(settings, run_dir, console)
        self.offline = offline

    def run(self, records: list[Row], job: ClientJob, cache: ResponseCache, *,
            on_row: RowCallback | None = None) -> Execution:  # fmt: skip
        """Run ``job`` over every record with one client; the report is None offline (nothing sent).

        Raises:
            CacheMissError: offline, for records the cache cannot answer (saying so when its entries were
                written under an older cache-key version, which never match).

        """
        rows, stats, elapsed = asyncio.run(self._run(records, job, cache, on_row))
        report = None if self.offline else ScaleoutReport(
            executor=self.kind, rows=len(rows), requests_sent=stats.sent, elapsed_s=round(elapsed, 3))
        return Execution(rows, stats, elapsed, report, requests_sent=stats.sent)

    async def _run(self, records: list[Row], job: ClientJob, cache: ResponseCache,
                   on_row: RowCallback | None) -> tuple[list[Row | None], ClientStats, float]:  # fmt: skip
        try:
            async with TeacherClient(job.teacher, cache, offline=self.offline) as client:
                started = time.perf_counter()
                rows = await job.run(records, client, partial=False, on_row=on_row)
                return rows, client.stats, time.perf_counter() - started
        except CacheMissError as error:
            raise with_stale_note(error, cache) from None


def with_stale_note(error: CacheMissError, cache: ResponseCache) -> CacheMissError:
    """``error``, saying so when the cache holds answers of an older cache-key version (they never match)."""
    stale = cache.stale_entries()
    if not stale:
        return error
    return CacheMissError(f"{error}; the cache holds {stale} answers written by an older alttrain under another "
                          f"cache-key version (v{CACHE_KEY_VERSION} now), which are not reused")
