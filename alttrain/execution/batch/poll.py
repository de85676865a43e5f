"""Waiting for a batch: ``batches.retrieve`` every ``poll_interval_s`` with a status line, until the batch ends.

The line says the round, the batch, its status, requests done and failed of the total, the time since
the batch was created and an ETA from the rate since it started running. On a terminal it is redrawn
in place on every poll; every change of status is also printed as a line of its own (so logs and
non-interactive consoles show the phases), and recorded in ``RUN/batches.json`` at once; so is the first
look (a resumed run says where the batch stands).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from contextlib import nullcontext
from datetime import timedelta

from openai.types import Batch
from rich.console import Console

from alttrain.console import say
from alttrain.execution.batch.api import TERMINAL_STATUSES, BatchAPI
from alttrain.execution.batch.state import BatchRecord


def clock(seconds: float) -> str:
    """``H:MM:SS`` for a duration (negative durations, from clock skew, read as zero)."""
    return str(timedelta(seconds=max(0, round(seconds))))


def status_line(record: BatchRecord, batch: Batch, now: float) -> str:
    """One line on a batch: status, done/failed/total, elapsed, ETA."""
    counts = batch.request_counts
    done, failed, total = (counts.completed, counts.failed, counts.total) if counts else (0, 0, record.requests)
    finished = done + failed
    eta = "?"
    if batch.status in TERMINAL_STATUSES or batch.status == "finalizing":
        eta = "0:00:00"
    elif batch.status == "in_progress" and finished and batch.in_progress_at:
        eta = clock((now - batch.in_progress_at) / finished * (total - finished))
    return (f"{record.name} {batch.id}: {batch.status}, {done}/{total} done, {failed} failed, "
            f"elapsed {clock(now - batch.created_at)}, ETA {eta}")


async def wait_for(
    api: BatchAPI, record: BatchRecord, interval_s: float, console: Console | None, on_change: Callable[[], None]
) -> Batch:
    """Poll the round's batch until it ends; call ``on_change`` (which saves the state) on every status change."""
    assert record.batch_id is not None, "the round has no batch to wait for"
    live = console.status("") if console is not None and console.is_terminal else nullcontext()
    first = True
    with live as status:
        while True:
            batch = await api.retrieve(record.batch_id)
            line = status_line(record, batch, time.time())
            changed = batch.status != record.status
            if changed:
                record.status = batch.status
                counts = batch.request_counts
                record.request_counts = counts.model_dump() if counts else None
                on_change()
            if (changed or first) and console is not None:
                say(console, line)
            first = False
            if status is not None:
                status.update(line)
            if batch.status in TERMINAL_STATUSES:
                return batch
            await asyncio.sleep(interval_s)
