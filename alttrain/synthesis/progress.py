"""A rich progress bar for synthesis: rows done, rows/s, tokens/s, retried errors, quarantined rows, ETA."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from alttrain.llm.client import ClientStats
from alttrain.records import STATUS_QUARANTINED


class SynthesisProgress:
    """Use as ``with SynthesisProgress(total) as progress:`` and pass ``progress`` as the row callback."""

    def __init__(self, total: int, *, enabled: bool = True, console: Console | None = None) -> None:
        self._progress = Progress(
            TextColumn("synthesize"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rows_s]:.1f} rows/s"),
            TextColumn("{task.fields[tokens_s]:.0f} tok/s"),
            TextColumn("{task.fields[retries]} retries"),
            TextColumn("{task.fields[quarantined]} quarantined"),
            TimeRemainingColumn(),
            console=console,
            disable=not enabled,
        )
        fields = {"rows_s": 0.0, "tokens_s": 0.0, "retries": 0, "quarantined": 0}
        self._task = self._progress.add_task("synthesize", total=total, **fields)
        self._started = time.perf_counter()
        self._rows = 0
        self._tokens = 0
        self._quarantined = 0

    def __call__(self, row: Mapping[str, Any], stats: ClientStats) -> None:
        """Count one finished row; show the client's retries so far."""
        self._rows += 1
        self._tokens += (row.get("prompt_tokens") or 0) + (row.get("completion_tokens") or 0)
        self._quarantined += row.get("status") == STATUS_QUARANTINED
        elapsed = max(time.perf_counter() - self._started, 1e-9)
        self._progress.update(
            self._task,
            advance=1,
            rows_s=self._rows / elapsed,
            tokens_s=self._tokens / elapsed,
            retries=stats.retries,
            quarantined=self._quarantined,
        )

    def __enter__(self) -> SynthesisProgress:
        self._progress.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._progress.stop()
