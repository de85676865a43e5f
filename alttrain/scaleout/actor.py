"""The Ray actor: one teacher client over one node-local cache; records in, an envelope of results out.

The actor is asynchronous: it works on ``ray.batches_per_actor`` batches at once on one event loop, all
through its one client (whose slots bound what is in flight), so a batch's stragglers never leave the
client idle while the next batch waits.

A batch arrives as an Arrow table of ``index`` (the record's place in the run), ``record`` (its JSON) and
``seed`` (JSON of the answers the driver holds for it). It goes back as an envelope, one Arrow schema for
every batch: a ``row`` per record (its index and JSON), an ``entry`` per cache entry the batch used that
the driver did not send (new answers, and answers an earlier actor on this node left; in columns of their
own, never re-encoded), one ``stats`` line, or a single ``refused`` (the endpoint refused the run) or
``problem`` (this node would compute other cache keys than the driver) line instead of rows.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pyarrow as pa

from alttrain.errors import TeacherAccessError
from alttrain.execution.jobs import ClientJob
from alttrain.llm.cache import keyed_request
from alttrain.llm.client import RateLimits, TeacherClient, backend_class, teacher_identity
from alttrain.llm.config import TeacherConfig
from alttrain.llm.types import SamplingParams, TeacherRequest
from alttrain.scaleout.accounting import stats_line
from alttrain.scaleout.config import RayConfig
from alttrain.scaleout.entries import BatchLedger, Entry, RecordingCache
from alttrain.scaleout.keys import DriverKey
from alttrain.scaleout.nodes import DRILL_MARKER, clean_node, node_dir

ROW, ENTRY, STATS, REFUSED, PROBLEM = "row", "entry", "stats", "refused", "problem"
ENVELOPE = pa.schema([("kind", pa.string()), ("index", pa.int64()), ("payload", pa.string()),
                      *((field, pa.string()) for field in Entry._fields)])
DRILL_EXIT_CODE = 70
CLOSE_TIMEOUT_S = 30.0  # for the backend to close (a vLLM engine shuts down) when the pool lets the actor go
_PROBE = TeacherRequest(messages=[{"role": "user", "content": "alttrain key probe"}], sampling=SamplingParams())


def probe_key(teacher: TeacherConfig) -> str:
    """The cache key of a fixed request for ``teacher`` here: equal on driver and actor iff their keys agree."""
    backend = backend_class(teacher.backend)
    options, fields = backend.key_options(teacher), backend.record_fields
    return keyed_request(teacher_identity(teacher), _PROBE, options=options, record_fields=fields)[0]


def envelope(items: list[tuple[str, int, Any]], entries: list[Entry] | None = None) -> pa.Table:
    """The batch's results as one Arrow table: ``items`` (kind, index, payload as JSON), then ``entries``."""
    entries = entries or []
    blank: list[None] = [None] * len(items)
    columns: list[list[Any]] = [
        [kind for kind, _, _ in items] + [ENTRY] * len(entries),
        [index for _, index, _ in items] + [-1] * len(entries),
        [json.dumps(payload, ensure_ascii=False) for _, _, payload in items] + [None] * len(entries),
    ]
    columns += [blank + [entry[field] for entry in entries] for field in range(len(Entry._fields))]
    return pa.table(columns, schema=ENVELOPE)


class Drill:
    """The fault drill: exit abruptly once half the (K+1)-th batch's rows have new answers; once per run.

    Args:
        marker: created (atomically) by the one actor that crashes; none crashes once it exists.
        after: K, or None for no drill.

    """

    def __init__(self, marker: Path, after: int | None) -> None:
        self._marker, self._after = marker, after
        self._batches = 0

    def arm(self, rows: int) -> int | None:
        """A batch begins: the number of new answers to exit at when it is the (K+1)-th, else None."""
        self._batches += 1
        armed = self._after is not None and self._batches == self._after + 1 and not self._marker.exists()
        return max(1, rows // 2) if armed else None

    def answered(self, ledger: BatchLedger) -> None:
        """A batch committed a new answer: exit here when its drill says so."""
        if ledger.crash_at is None or ledger.answers < ledger.crash_at:
            return
        ledger.crash_at = None
        try:
            self._marker.open("x").close()
        except FileExistsError:  # another actor on this node crashed first
            return
        os._exit(DRILL_EXIT_CODE)


class BusyClock:
    """Seconds with at least one batch in progress (batches overlap)."""

    def __init__(self) -> None:
        self._done, self._active, self._since = 0.0, 0, 0.0

    def enter(self) -> None:
        """A batch starts."""
        if self._active == 0:
            self._since = time.perf_counter()
        self._active += 1

    def leave(self) -> None:
        """A batch ends."""
        self._active -= 1
        if self._active == 0:
            self._done += time.perf_counter() - self._since

    def seconds(self) -> float:
        """Busy seconds so far."""
        return self._done + (time.perf_counter() - self._since if self._active else 0.0)


class ClientActor:
    """The class each actor of the pool runs (:mod:`alttrain.scaleout.driver`): called with Arrow batches, async.

    Args:
        job: the work (the same object the driver's pre-pass ran).
        teacher: this actor's teacher (a shared endpoint's concurrency divided among the workers).
        settings: the executor settings (the node cache folder, the drill).
        tag: the run's folder name on the node.
        key: :func:`probe_key` on the driver.
        api_key: the teacher's key as the driver's environment holds it (this process may not have it).
        limits: the endpoint's budgets shared by every worker of the run (:mod:`alttrain.scaleout.budget`);
            None: the client's own, from ``teacher``.

    """

    def __init__(
        self, job: ClientJob, teacher: TeacherConfig, settings: RayConfig, tag: str, key: str, api_key: DriverKey,
        limits: RateLimits | None = None,
    ) -> None:  # fmt: skip
        import ray

        api_key.install()  # before the client builds its backend, which reads the key variable
        context = ray.get_runtime_context()
        self._actor, self._node = context.get_actor_id() or "driver", context.get_node_id()
        self._settings, self._tag = settings, tag
        folder = node_dir(settings, tag)
        started = folder / f"{self._actor}.started"  # left by this actor's earlier process: this one is a restart
        self._reconstructed = started.exists()
        started.touch()
        self._drill = Drill(folder / DRILL_MARKER, settings.crash_after_batches)
        self._cache = RecordingCache(folder / f"{self._node}.sqlite", on_put=self._drill.answered)
        self._job = job
        self._problem = None if probe_key(teacher) == key else (
            f"node {self._node} computes other cache keys for {teacher_identity(teacher)} than the driver (a teacher "
            "file missing or different there, or another alttrain version); its answers could not be re-parsed"
        )  # fmt: skip
        self._client = TeacherClient(teacher, self._cache, limits=limits)
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop Ray runs this actor's batches on
        self._loop_thread: threading.Thread | None = None
        self._starting: asyncio.Lock | None = None
        self._busy = BusyClock()
        self._reports = 0

    async def __call__(self, batch: pa.Table) -> pa.Table:
        """Run the job over the batch's records; return the envelope."""
        if self._problem is not None:
            return envelope([(PROBLEM, -1, self._problem)])
        await self._start()
        indices = batch["index"].to_pylist()
        records = [json.loads(text) for text in batch["record"].to_pylist()]
        known = self._cache.seed([Entry(*entry) for text in batch["seed"].to_pylist() for entry in json.loads(text)])
        self._busy.enter()
        try:
            with self._cache.batch(crash_at=self._drill.arm(len(records))) as ledger:
                rows = await self._job.run(records, self._client, partial=False)
        except TeacherAccessError as error:
            return envelope([(REFUSED, -1, str(error))])
        finally:
            self._busy.leave()
        self._reports += 1
        stats = stats_line(self._client.stats, actor=self._actor, node=self._node, pid=os.getpid(),
                           reconstructed=self._reconstructed, report=self._reports, rows=len(rows),
                           busy_s=self._busy.seconds())  # fmt: skip
        items: list[tuple[str, int, Any]] = [(ROW, index, row) for index, row in zip(indices, rows, strict=True)]
        return envelope([*items, (STATS, -1, stats)], self._cache.entries(ledger, known))

    async def ready(self) -> None:
        """Answer once the actor is built (its process started, its client made): it can take batches."""

    def clean(self) -> str:
        """Delete the run's folder on this actor's node (once every batch is merged); return the node's id.

        The driver asks its actors before they go: a clean-up task would wait for a fresh worker process.
        """
        clean_node(self._settings, self._tag)
        return self._node

    async def _start(self) -> None:
        """Start the client's backend on the actor's loop, once."""
        if self._loop is not None:
            return
        self._starting = self._starting or asyncio.Lock()
        async with self._starting:
            if self._loop is None:
                await self._client.__aenter__()
                self._loop, self._loop_thread = asyncio.get_running_loop(), threading.current_thread()

    def __del__(self) -> None:
        """Close the client (its backend) and the cache (folding its WAL) when the pool lets the actor go."""
        try:
            loop = self._loop  # at interpreter exit its (daemon) thread is frozen: nothing can run on it
            closable = loop is not None and loop.is_running() and not sys.is_finalizing()
            if closable and threading.current_thread() is not self._loop_thread:
                closing = asyncio.run_coroutine_threadsafe(self._client.__aexit__(None, None, None), loop)
                closing.result(timeout=CLOSE_TIMEOUT_S)
            self._cache.close()
        except Exception:  # noqa: BLE001 - the process is going away; the next open recovers the WAL
            pass
