"""The driver's pass over the run's cache before anything is sent: rows it answers whole, and seeds for the rest.

A resumed run (after a crash, a kill or a finished run with more prompts) finishes here every row whose
requests are all cached, without an actor, and gives every other row the answers the cache already holds
for it (the first reply of a row whose repair is still missing, say), so no actor asks for them again.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from alttrain.execution.jobs import ClientJob, Row
from alttrain.llm.cache import ResponseCache
from alttrain.llm.client import TeacherClient
from alttrain.llm.config import TeacherConfig
from alttrain.llm.types import TeacherRequest, TeacherResponse
from alttrain.scaleout.entries import Entry


class SeedingClient(TeacherClient):
    """An offline client over the run's cache that remembers each answer it gave, by the request's record id."""

    def __init__(self, teacher: TeacherConfig, cache: ResponseCache) -> None:
        super().__init__(teacher, cache, offline=True)
        self.answered: defaultdict[str, list[Entry]] = defaultdict(list)

    async def complete(self, request: TeacherRequest) -> TeacherResponse:
        """Answer from the cache (raising :class:`~alttrain.errors.CacheMissError` on a miss) and remember it."""
        response = await super().complete(request)
        row = request.record.get("id")
        if row is not None:
            key, request_json = self.cache_key(request)
            self.answered[str(row)].append(Entry.of(key, self.identity, request_json, response))
        return response


@dataclass
class Prepass:
    """Rows the cache answered (None: to be sent), the cached answers of the others, and the finished rows' hits."""

    rows: list[Row | None]
    seeds: dict[str, list[Entry]] = field(default_factory=dict)  # record id -> cached answers of its requests
    cache_hits: int = 0  # answers the finished rows took from the cache

    @property
    def pending(self) -> list[int]:
        """Indices of the records still to be sent."""
        return [index for index, row in enumerate(self.rows) if row is None]


async def prepass(records: list[Row], job: ClientJob, cache: ResponseCache) -> Prepass:
    """Run ``job`` offline over ``cache`` (an empty cache answers nothing: skipped)."""
    if len(cache) == 0:
        return Prepass([None] * len(records))
    async with SeedingClient(job.teacher, cache) as client:
        rows = await job.run(records, client, partial=True)
    pending = {str(record.get("id")) for record, row in zip(records, rows, strict=True) if row is None}
    seeds = {row: entries for row, entries in client.answered.items() if row in pending}
    seeded = sum(len(entries) for entries in seeds.values())
    return Prepass(rows, seeds, client.stats.cache_hits - seeded)
