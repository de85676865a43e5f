"""What a scaled-out run did, per actor and in all: the report a stage shows and writes next to its output.

Each finished batch carries its process's cumulative counts (the client's, and the busy time); the driver
keeps the latest per process and adds a restarted actor's processes up. Rows and batches are counted once
per finished batch: a batch whose actor died counts for the actor that finished it. ``RUN/scaleout.json``
(:data:`alttrain.layout.SCALEOUT_FILE`) holds :meth:`ScaleoutReport.as_json` plus the stage's name; a local run
writes it too, with ``executor: local``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from alttrain.llm.client import ClientStats

STAT_FIELDS = tuple(f.name for f in fields(ClientStats))


@dataclass
class ActorAccounting:
    """One actor over the run: where it ran, its processes, its restarts and its counts.

    A restart is counted from the restarted process itself (Ray tells it that it was reconstructed), not from
    the number of processes that reported: the process that crashed may have finished no batch to report.
    """

    actor: str  # the Ray actor id
    node: str  # the Ray node id
    pids: list[int] = field(default_factory=list)
    restarts: int = 0  # processes that reported being a restart of this actor
    batches: int = 0
    rows: int = 0
    busy_s: float = 0.0  # time spent inside batches
    sent: int = 0  # requests sent, retries included
    answered: int = 0
    cache_hits: int = 0  # from the node-local cache (answers the driver seeded included)
    retries: int = 0
    failures: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0


DRIVER = "driver"  # the worker name of the driver's own batches (``work_on_driver``)


def stats_line(stats: ClientStats, *, actor: str, node: str, pid: int, reconstructed: bool, report: int, rows: int,
               busy_s: float) -> dict[str, Any]:  # fmt: skip
    """What a worker reports with each finished batch: its client's cumulative counts, where it ran, the batch."""
    return {**asdict(stats), "actor": actor, "node": node, "pid": pid, "reconstructed": reconstructed,
            "report": report, "rows": rows, "busy_s": busy_s}  # fmt: skip


class Ledger:
    """The driver's running account of the pool, from the ``stats`` line of every finished batch."""

    def __init__(self) -> None:
        self.actors: dict[str, ActorAccounting] = {}
        self._latest: dict[tuple[str, int], dict[str, Any]] = {}  # (actor, pid) -> its latest cumulative counts

    def add(self, batch: dict[str, Any]) -> None:
        """Count one finished batch; keep its process's counts when they are the latest it sent."""
        actor = self.actors.setdefault(batch["actor"], ActorAccounting(batch["actor"], batch["node"]))
        if batch["pid"] not in actor.pids:
            actor.pids.append(batch["pid"])
            actor.restarts += bool(batch["reconstructed"])
        actor.batches += 1
        actor.rows += batch["rows"]
        process = (batch["actor"], batch["pid"])
        if batch["report"] > self._latest.get(process, {}).get("report", 0):
            self._latest[process] = batch
            reports = [counts for (name, _), counts in self._latest.items() if name == actor.actor]
            for name in (*STAT_FIELDS, "busy_s"):
                setattr(actor, name, sum(counts[name] for counts in reports))

    def stats(self, cache_hits: int = 0) -> ClientStats:
        """The client counts over every actor, plus ``cache_hits`` taken on the driver."""
        stats = ClientStats(cache_hits=cache_hits)
        for actor in self.actors.values():
            for name in STAT_FIELDS:
                setattr(stats, name, getattr(stats, name) + getattr(actor, name))
        return stats


@dataclass
class ScaleoutReport:
    """How a stage's rows were made: the executor, the pool, the per-actor accounting and the cache traffic."""

    executor: str  # local | ray | batch
    rows: int
    requests_sent: int
    elapsed_s: float
    actors: int = 1  # configured pool size (local: 1)
    address: str | None = None  # the Ray address (None: a cluster started by the run)
    batch_size: int | None = None
    cpus_per_actor: float | None = None
    gpus_per_actor: float | None = None
    actor_limits: dict[str, int | None] = field(default_factory=dict)  # each actor's share of the endpoint budgets
    rows_from_cache: int = 0  # finished on the driver from the run's cache, no actor needed
    recovered_entries: int = 0  # answers found in node caches left by an interrupted run
    # node-cache entries never merged (a key that is not its request's hash, another teacher, another key
    # version, an unreadable response), counted by "node <id> <file>: <reason>"
    refused_entries: dict[str, int] = field(default_factory=dict)
    merged_entries: int = 0  # new answers the actors sent back into the run's cache
    per_actor: list[ActorAccounting] = field(default_factory=list)  # the driver as "driver" when it worked
    driver_worked: bool = False  # the driver worked batches too (``work_on_driver``)
    batches: list[dict[str, Any]] = field(default_factory=list)  # each batch: rows, worker ("driver" or actor), node
    # seconds of the run's parts: harvest, prepass, actors_ready (the last actor's first batch after the pass
    # began), batches (the pass), clean
    phases: dict[str, float] = field(default_factory=dict)

    def as_json(self, stage: str) -> dict[str, Any]:
        """The report as written to ``scaleout.json``: its fields and the stage's name."""
        return {"stage": stage, **asdict(self)}

    def write(self, path: Path, stage: str) -> None:
        """Write :meth:`as_json` to ``path`` (replacing it whole)."""
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.as_json(stage), indent=2) + "\n")
        temporary.replace(path)
