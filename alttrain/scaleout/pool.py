"""One pass of a run's pending records through the workers: the actor pool, and the driver when it works.

The pending records are cut into batches (:func:`~alttrain.scaleout.config.pool_shape`) in one queue. Each
worker takes ``batches_per_actor`` batches at once and the next one whenever it finishes one: an actor from the
moment it is ready (its process started and its client made), the driver (``work_on_driver``; by default for
an endpoint with a requests or tokens budget) from the start of the pass, with its own client over the run's
cache. So the endpoint's budget is used while the actors start, and a worker that runs out of work leaves the
budget to the others: every worker's client charges one budget per endpoint (:mod:`alttrain.scaleout.budget`;
the driver its own limits until the budget's actor is up). An actor's batch comes back as an envelope whose
answers are merged into the run's cache; the driver's answers are in it already.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any

from alttrain.errors import ConfigError, TeacherAccessError
from alttrain.execution.jobs import ClientJob, Row, RowCallback
from alttrain.llm.backends import backend_class
from alttrain.llm.cache import ResponseCache
from alttrain.llm.client import ClientStats, RateLimits, TeacherClient
from alttrain.llm.config import TeacherConfig
from alttrain.scaleout.accounting import DRIVER, Ledger, stats_line
from alttrain.scaleout.actor import ENTRY, PROBLEM, REFUSED, ROW, STATS, BusyClock, ClientActor, probe_key
from alttrain.scaleout.budget import shared_budget
from alttrain.scaleout.config import RayConfig, actor_teacher, driver_works, pool_shape
from alttrain.scaleout.entries import Entry, merge_entries
from alttrain.scaleout.keys import DriverKey
from alttrain.scaleout.nodes import fetched
from alttrain.scaleout.prepass import Prepass

#: restarts of a crashed actor (its batches go again each time) before the run fails
ACTOR_RESTARTS = 3
Batch = tuple[int, Any]  # its number in the pass, and its Arrow table


def check_resources(settings: RayConfig, actors: int) -> None:
    """Refuse a pool the cluster cannot hold (its actors would wait for it without end).

    Raises:
        ConfigError: the cluster has fewer CPUs or GPUs than ``actors`` actors ask for.

    """
    import ray

    have = ray.cluster_resources()
    for name, each in (("CPU", settings.cpus_per_actor), ("GPU", settings.gpus_per_actor)):
        if each and have.get(name, 0.0) < actors * each:
            raise ConfigError(f"ray: {actors} actors x {each} {name} (executor.actors, "
                              f"executor.{name.lower()}s_per_actor) need {actors * each:g} {name}s; "
                              f"the cluster has {have.get(name, 0.0):g}")


class Pool:
    """One pass of the pending records: dispatch to the workers, stream back, merge, count."""

    def __init__(self, settings: RayConfig, driver_hits: int, on_row: RowCallback | None) -> None:
        self._settings, self._driver_hits, self._on_row = settings, driver_hits, on_row
        self.ledger = Ledger()
        self.merged = 0
        self.cleaned: set[str] = set()  # the nodes whose actors deleted the run's folder
        self.actors, self.batch_rows = settings.actors, settings.batch_size  # what the pass used (pool_shape)
        self.workers, self.driver = settings.actors, False  # the actors, and the driver when it worked
        self.done_by: dict[int, dict[str, Any]] = {}  # batch number -> its rows, worker and node
        self.actors_ready_s = 0.0  # from the pass's start until the last actor took its first batch

    def stats(self) -> ClientStats:
        """The client counts so far: every worker's, plus the driver's cache hits."""
        return self.ledger.stats(self._driver_hits)

    def run(
        self, records: list[Row], before: Prepass, job: ClientJob, cache: ResponseCache, tag: str,
        rows: list[Row | None],
    ) -> None:  # fmt: skip
        """Send the pending records; fill ``rows`` and ``cache`` as batches come back."""
        asyncio.run(self._run(records, before, job, cache, tag, rows))

    async def _run(
        self, records: list[Row], before: Prepass, job: ClientJob, cache: ResponseCache, tag: str,
        rows: list[Row | None],
    ) -> None:  # fmt: skip
        import ray

        settings = self._settings
        self.driver = driver_works(settings, job.teacher)
        self.actors, self.batch_rows = pool_shape(len(before.pending), settings, driver=self.driver)
        check_resources(settings, self.actors)
        self.workers = self.actors + self.driver
        shared = backend_class(job.teacher.backend).shared_endpoint and self.workers > 1
        budget = shared_budget(job.teacher) if shared else None
        limits = None if budget is None else budget.limits
        teacher = actor_teacher(job.teacher, self.workers)
        queue: deque[Batch] = deque(enumerate(self._batches(records, before)))
        arguments = {"job": job, "teacher": teacher, "settings": settings, "tag": tag,
                     "key": probe_key(job.teacher), "api_key": DriverKey.of(job.teacher), "limits": limits}
        options: dict[str, Any] = {"num_cpus": settings.cpus_per_actor, "max_restarts": ACTOR_RESTARTS,
                                   "max_task_retries": ACTOR_RESTARTS}  # a crashed actor's batches go again
        if settings.gpus_per_actor:
            options["num_gpus"] = settings.gpus_per_actor
        actors = [ray.remote(ClientActor).options(**options).remote(**arguments) for _ in range(self.actors)]
        started = time.perf_counter()
        workers = [asyncio.create_task(self._actor(actor, queue, cache, rows, started)) for actor in actors]
        if budget is not None:
            workers.append(asyncio.create_task(budget.hand_over()))
        if self.driver:
            own = None if budget is None else budget.driver
            workers.append(asyncio.create_task(self._on_driver(job, teacher, own, records, queue, cache, rows)))
        finished = False
        try:
            done, _ = await asyncio.wait(workers, return_when=asyncio.FIRST_EXCEPTION)
            for worker in done:
                if (error := worker.exception()) is not None:
                    raise error
            self.cleaned = set(await asyncio.gather(*(fetched(actor.clean.remote()) for actor in actors)))
            finished = True
        finally:
            if not finished:  # a batch ended the run: stop the others now
                for worker in workers:
                    worker.cancel()
                for actor in actors:
                    ray.kill(actor, no_restart=True)

    async def _actor(self, actor: Any, queue: deque[Batch], cache: ResponseCache, rows: list[Row | None],
                     started: float) -> None:  # fmt: skip
        """One actor: once it is ready, ``batches_per_actor`` lanes that each take the next batch while any is left."""
        await fetched(actor.ready.remote())
        self.actors_ready_s = max(self.actors_ready_s, time.perf_counter() - started)

        async def lane() -> None:
            while queue:
                number, batch = queue.popleft()
                self._take(number, await fetched(actor.__call__.remote(batch)), cache, rows)

        await asyncio.gather(*(lane() for _ in range(self._settings.batches_per_actor)))

    async def _on_driver(
        self, job: ClientJob, teacher: TeacherConfig, limits: RateLimits | None, records: list[Row],
        queue: deque[Batch], cache: ResponseCache, rows: list[Row | None],
    ) -> None:  # fmt: skip
        """The driver as a worker: its own client over the run's cache (answers need no merge), the same lanes."""
        import ray

        node, busy, reports = ray.get_runtime_context().get_node_id(), BusyClock(), 0
        async with TeacherClient(teacher, cache, limits=limits) as client:

            async def lane() -> None:
                nonlocal reports
                while queue:
                    number, batch = queue.popleft()
                    indices = batch["index"].to_pylist()
                    busy.enter()
                    try:
                        done = await job.run([records[index] for index in indices], client, partial=False)
                    finally:
                        busy.leave()
                    reports += 1
                    line = stats_line(client.stats, actor=DRIVER, node=node, pid=os.getpid(), reconstructed=False,
                                      report=reports, rows=len(done), busy_s=busy.seconds())  # fmt: skip
                    self._finish(number, line, zip(indices, done, strict=True), rows)

            await asyncio.gather(*(lane() for _ in range(self._settings.batches_per_actor)))

    def _batches(self, records: list[Row], before: Prepass) -> Iterator[Any]:
        """The pending records as Arrow tables of ``batch_rows`` rows: index, record and seed (JSON)."""
        import pyarrow as pa

        pending = before.pending
        for start in range(0, len(pending), self.batch_rows):
            chunk = pending[start : start + self.batch_rows]
            seeds = [before.seeds.get(str(records[index].get("id")), []) for index in chunk]
            yield pa.table({
                "index": pa.array(chunk, pa.int64()),
                "record": [json.dumps(records[index], ensure_ascii=False) for index in chunk],
                "seed": [json.dumps(entries, ensure_ascii=False) for entries in seeds],
            })  # fmt: skip

    def _take(self, number: int, batch: Any, cache: ResponseCache, rows: list[Row | None]) -> None:
        """Handle one actor's envelope: merge its entries (one transaction), count it, then fill its rows."""
        kinds, indices, payloads = (batch[name].to_pylist() for name in ("kind", "index", "payload"))
        fields = [batch[name].to_pylist() for name in Entry._fields]
        entries = [Entry(*(column[i] for column in fields)) for i, kind in enumerate(kinds) if kind == ENTRY]
        self.merged += merge_entries(cache, entries)
        lines = [(kind, index, json.loads(text)) for kind, index, text in zip(kinds, indices, payloads, strict=True)
                 if kind != ENTRY]  # fmt: skip
        for kind, _, payload in lines:
            if kind == REFUSED:
                raise TeacherAccessError(payload)
            if kind == PROBLEM:
                raise ConfigError(payload)
        (stats,) = (payload for kind, _, payload in lines if kind == STATS)
        self._finish(number, stats, ((index, payload) for kind, index, payload in lines if kind == ROW), rows)

    def _finish(self, number: int, stats: dict[str, Any], done: Iterable[tuple[int, Row]],
                rows: list[Row | None]) -> None:  # fmt: skip
        """Count a finished batch (its worker's ``stats`` line), then fill its rows."""
        self.ledger.add(stats)
        self.done_by[number] = {"batch": number, "rows": stats["rows"], "worker": stats["actor"], "node": stats["node"]}
        for index, row in done:
            rows[index] = row
            if self._on_row is not None:
                self._on_row(row, self.stats())
