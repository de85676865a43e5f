"""A rich progress bar for training: step, loss, trained tokens/s and ETA, fed by a trainer callback."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


class TrainingProgress:
    """Use as ``with TrainingProgress(console) as progress:`` and call :meth:`update` after each step."""

    def __init__(self, console: Console | None) -> None:
        self._progress = Progress(
            TextColumn("train"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}"),
            TextColumn("{task.fields[tokens_s]:.0f} tok/s"),
            TimeRemainingColumn(),
            console=console,
            disable=console is None,
        )
        self._task = self._progress.add_task("train", total=None, loss="-", tokens_s=0.0)
        self._started = time.perf_counter()

    def update(self, step: int, total: int, loss: float | None, input_tokens: int) -> None:
        """Show ``step`` of ``total``, the last logged loss, and input tokens per second so far."""
        elapsed = max(time.perf_counter() - self._started, 1e-9)
        fields: dict[str, Any] = {"tokens_s": input_tokens / elapsed}
        if loss is not None:
            fields["loss"] = f"{loss:.3f}"
        self._progress.update(self._task, completed=step, total=total, **fields)

    def __enter__(self) -> TrainingProgress:
        self._progress.start()
        self._started = time.perf_counter()
        return self

    def __exit__(self, *_: object) -> None:
        self._progress.stop()
