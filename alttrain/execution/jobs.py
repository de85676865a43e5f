"""The work a stage hands to an executor: records in, one output row per record, through one teacher client.

Every executor (:mod:`alttrain.execution.registry`) runs the same job: the local one with one client, the
batch one with a client that defers misses to batches, the Ray one on an actor pool. On Ray a job runs
twice over: on the driver with an offline client over the run's cache (``partial``: rows the
cache answers whole are finished there, the others left as None), and on the actors with an online client
over the node-local cache. Rows must be JSON-serialisable. A request that carries its record's ``id`` in
``request.record`` is seeded: the answers the driver holds for an unfinished row travel with it, so an actor
never asks again what the run already knows.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from alttrain.errors import CacheMissError
from alttrain.llm.client import ClientStats, TeacherClient
from alttrain.llm.config import TeacherConfig
from alttrain.llm.types import SamplingParams, TeacherError, TeacherRequest, TeacherResponse

Row = dict[str, Any]
RowCallback = Callable[[Mapping[str, Any], ClientStats], None]  # each finished row, with the client's counts so far


class ClientJob(ABC):
    """Rows made through one entered :class:`~alttrain.llm.client.TeacherClient` (picklable: it goes to the actors)."""

    @property
    @abstractmethod
    def teacher(self) -> TeacherConfig:
        """The teacher every client of this job is built from."""

    @property
    def chained_requests(self) -> int:
        """Requests one record may need one after another (a reply, then repairs): its batch rounds at most."""
        return 1

    @abstractmethod
    async def run(
        self, records: list[Row], client: TeacherClient, *, partial: bool, on_row: RowCallback | None = None
    ) -> list[Row | None]:
        """One row per record, in order; with ``partial``, None where the client raised :class:`CacheMissError`.

        ``on_row`` is called with each row as it is finished (the local executor's progress).

        Raises:
            TeacherAccessError: the endpoint refused the run.
            CacheMissError: without ``partial``, from an offline client.

        """


class RequestJob(ClientJob):
    """One request per record (``record["messages"]``, the job's sampling): the answer, or the error that ended it.

    The row is ``{text, reasoning_content, prompt_tokens, completion_tokens, finish_reason, error}``; a request
    that fails at the backend (after the client's retries) gives ``text == ""`` and ``error`` set to
    ``"<ErrorClass>: <message>"`` (evaluation's rows for every model under test).

    Args:
        teacher: the client's teacher config.
        sampling: the sampling of every request (part of the cache key).

    """

    def __init__(self, teacher: TeacherConfig, sampling: SamplingParams) -> None:
        self._teacher, self._sampling = teacher, sampling

    @property
    def teacher(self) -> TeacherConfig:
        """The teacher config."""
        return self._teacher

    async def run(
        self, records: list[Row], client: TeacherClient, *, partial: bool, on_row: RowCallback | None = None
    ) -> list[Row | None]:
        """Answer every record's request through :meth:`TeacherClient.complete_many` (the backend sees them all)."""
        requests = [TeacherRequest(messages=record["messages"], sampling=self._sampling) for record in records]
        rows = [self._row(outcome, partial) for outcome in await client.complete_many(requests)]
        if on_row is not None:
            for row in rows:
                if row is not None:
                    on_row(row, client.stats)
        return rows

    @staticmethod
    def _row(outcome: TeacherResponse | TeacherError | CacheMissError, partial: bool) -> Row | None:
        """The row of one outcome; a cache miss is None with ``partial`` and raised without."""
        if isinstance(outcome, CacheMissError):
            if partial:
                return None
            raise outcome
        if isinstance(outcome, TeacherError):
            return answer_row(TeacherResponse(""), f"{type(outcome).__name__}: {outcome}")
        return answer_row(outcome)


def answer_row(response: TeacherResponse, error: str | None = None) -> Row:
    """A :class:`RequestJob` row."""
    return {**vars(response), "error": error}


def align(records: Sequence[Row], done: Sequence[Row], unfinished: Sequence[str]) -> list[Row | None]:
    """Put rows back in record order: ``done`` lists the finished rows in order, ``unfinished`` the ids left out."""
    left_out, finished = Counter(unfinished), iter(done)
    rows: list[Row | None] = []
    for record in records:
        if left_out[str(record["id"])]:
            left_out[str(record["id"])] -= 1
            rows.append(None)
        else:
            rows.append(next(finished))
    return rows
