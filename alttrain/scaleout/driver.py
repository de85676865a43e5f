"""Run a job's records on a pool of Ray actors, with the run's cache, resume and quarantine semantics.

In order: connect to (or start) the cluster; harvest the node-local caches an interrupted run left into
the run's cache; run the job offline over that cache (:mod:`alttrain.scaleout.prepass`), finishing every
row it answers whole; send the rest in batches to a pool of plain Ray actors
(:class:`~alttrain.scaleout.actor.ClientActor`) and, for a shared endpoint, to the driver itself while the
actors start and after (:mod:`alttrain.scaleout.pool`: one queue, one budget per endpoint), merging each
actor batch's new answers into the run's cache as it comes back; then delete the run's node folders. Ray
restarts an actor that died and runs its batches again on it, and the restarted actor finds the answers its
predecessor committed in the node cache: only the requests in flight at the crash are sent again. A killed
driver loses nothing either: the next run harvests.
Plain actors, not a Ray Data pool: Ray Data's executor and its workers' imports cost a small job seconds
before the first request (``bench/scaleout.py``), and the driver holds every record anyway.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

from alttrain.errors import ConfigError, ServiceError
from alttrain.execution.jobs import ClientJob, Row, RowCallback
from alttrain.llm.backends import backend_class
from alttrain.llm.cache import ResponseCache
from alttrain.llm.client import ClientStats, teacher_identity
from alttrain.scaleout.accounting import ScaleoutReport
from alttrain.scaleout.config import RayConfig, actor_teacher
from alttrain.scaleout.nodes import clean, harvest, run_tag
from alttrain.scaleout.pool import Pool
from alttrain.scaleout.prepass import prepass

RAY_MISSING = "executor 'ray' needs Ray: pip install 'alttrain[ray]' (scripts/setup.sh installs it)"
LOOPBACK = "127.0.0.1"
#: Ray's switch that makes a node take the loopback address (its default on macOS and Windows), read at start-up
LOOPBACK_SWITCH = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
#: Ray's own variables a cluster started here gets unless the user set them: no usage statistics sent out
LOCAL_DEFAULTS = {"RAY_USAGE_STATS_ENABLED": "0"}


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """Set ``values`` in this process's environment (Ray's processes inherit it) for the block, then undo."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def local_cluster_settings() -> Iterator[None]:
    """For a cluster started here: every node address 127.0.0.1 (no port reachable from the network), usage off.

    Ray resolves a loopback node address to the machine's network address unless its loopback switch is
    off; the switch is a constant read when Ray is imported, so it is set here in both places.
    """
    from ray._private import ray_constants

    unset = {name: value for name, value in LOCAL_DEFAULTS.items() if name not in os.environ}
    saved = ray_constants.ENABLE_RAY_CLUSTER
    ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        with _environment({**unset, LOOPBACK_SWITCH: "0"}):
            yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = saved


@dataclass(frozen=True)
class RayRun:
    """One row per record (in record order), the client counts over the run, and its report."""

    rows: list[Row]
    stats: ClientStats
    report: ScaleoutReport


@contextmanager
def ray_session(settings: RayConfig) -> Iterator[None]:
    """Connect to ``settings.address`` (or start a local cluster) unless Ray is up; undo after.

    A configured address is used as given. A cluster started here has its dashboard off, listens on
    127.0.0.1 only (its ports take no authentication from other machines) and reports no usage
    statistics unless the user set Ray's ``RAY_USAGE_STATS_ENABLED``.

    Raises:
        ConfigError: Ray is not installed.
        ServiceError: the cluster at ``settings.address`` cannot be reached.

    """
    try:
        import ray
    except ImportError:
        raise ConfigError(RAY_MISSING) from None
    started = not ray.is_initialized()
    with ExitStack() as session:
        if started:
            options: dict[str, Any] = {"include_dashboard": False, "logging_level": logging.WARNING,
                                       "log_to_driver": False}  # fmt: skip
            if settings.address is None:  # a cluster of our own: loopback only, no usage report
                session.enter_context(local_cluster_settings())
                options.update(num_cpus=settings.local_cpus, _node_ip_address=LOOPBACK)
            else:  # the user's cluster, as configured
                options["address"] = settings.address
            try:
                ray.init(**options)
            except (ConnectionError, RuntimeError) as error:
                where = settings.address
                raise ServiceError(f"executor.address {where!r}: cannot join the cluster ({error})") from None
            session.callback(ray.shutdown)
        yield


def run_on_ray(
    records: list[Row], job: ClientJob, cache: ResponseCache, settings: RayConfig, *, on_row: RowCallback | None = None
) -> RayRun:
    """Make one row per record through ``job`` on the actor pool; every answer ends up in ``cache``.

    Args:
        records: JSON-serialisable records (with an ``id`` where the job's requests carry one).
        job: the work; the driver runs it offline first, the actors online.
        cache: the run's open response cache: read first, and every actor's new answer merged into it.
        settings: the cluster, the pool and the batches.
        on_row: called with each finished row (those the cache answered first).

    Raises:
        TeacherAccessError: the endpoint refused the run (answers received before stay cached).
        ConfigError: Ray is missing, the endpoint's key variable is unset, or a node computes other cache keys
            than this driver.

    """
    if backend_class(job.teacher.backend).shared_endpoint and (problem := job.teacher.missing_key()) is not None:
        raise ConfigError(problem)  # before the cluster or any actor starts
    started = time.perf_counter()
    with ray_session(settings):
        tag = run_tag(cache.path)
        # what a killed run left on the nodes, before anything is sent; entries that do not check out are refused
        recovered, refused = harvest(settings, tag, cache, teacher_identity(job.teacher))
        phases = {"harvest": time.perf_counter() - started}
        before = asyncio.run(prepass(records, job, cache))
        phases["prepass"] = time.perf_counter() - started - sum(phases.values())
        rows = list(before.rows)
        if on_row is not None:
            for row in rows:
                if row is not None:
                    on_row(row, ClientStats(cache_hits=before.cache_hits))
        pool = Pool(settings, before.cache_hits, on_row)
        if before.pending:
            pool.run(records, before, job, cache, tag, rows)
        phases["batches"] = time.perf_counter() - started - sum(phases.values())
        clean(settings, tag, pool.cleaned)
        phases["clean"] = time.perf_counter() - started - sum(phases.values())
    missing = [index for index, row in enumerate(rows) if row is None]
    if missing:
        raise RuntimeError(f"the Ray executor lost {len(missing)} of {len(records)} rows (first index {missing[0]})")
    stats = pool.stats()
    limits = actor_teacher(job.teacher, pool.workers)
    report = ScaleoutReport(
        executor="ray", rows=len(records), requests_sent=stats.sent, elapsed_s=time.perf_counter() - started,
        actors=settings.actors, address=settings.address, batch_size=pool.batch_rows,
        cpus_per_actor=settings.cpus_per_actor, gpus_per_actor=settings.gpus_per_actor,
        actor_limits={"concurrency": limits.concurrency, "requests_per_minute": limits.requests_per_minute,
                      "tokens_per_minute": limits.tokens_per_minute},
        rows_from_cache=len(records) - len(before.pending), recovered_entries=recovered, refused_entries=dict(refused),
        merged_entries=pool.merged,
        per_actor=sorted(pool.ledger.actors.values(), key=lambda actor: actor.actor),
        driver_worked=pool.driver, batches=[pool.done_by[number] for number in sorted(pool.done_by)],
        phases={**{name: round(seconds, 3) for name, seconds in phases.items()},
                "actors_ready": round(pool.actors_ready_s, 3)},
    )  # fmt: skip
    return RayRun([row for row in rows if row is not None], stats, report)
