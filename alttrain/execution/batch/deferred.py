"""A teacher client that sends nothing: it answers from the cache and defers every miss to a batch.

The batch teacher runs the ordinary engine with this client. A cached request is answered as online
(same keys: :meth:`~alttrain.llm.client.TeacherClient.cache_key`); a request whose batch already failed
for good raises that failure, so its row is quarantined as ``teacher_error`` exactly as online; any
other request is recorded in :attr:`DeferringClient.deferred` and raises
:class:`~alttrain.errors.CacheMissError`, which leaves its row unfinished for this pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from alttrain.errors import CacheMissError
from alttrain.llm.backends.base import Outcome
from alttrain.llm.cache import ResponseCache
from alttrain.llm.client import TeacherClient
from alttrain.llm.config import TeacherConfig
from alttrain.llm.types import TeacherError, TeacherRequest, TeacherResponse


@dataclass(frozen=True)
class DeferredRequest:
    """A request left for a batch: its cache key, the canonical JSON the key hashes, and the request."""

    key: str
    request_json: str
    request: TeacherRequest


class DeferringClient(TeacherClient):
    """An offline client that defers cache misses instead of failing on them.

    Args:
        teacher: the teacher config (its identity and backend settings make the keys).
        cache: the response cache.
        failed: keys whose requests failed for good, with the error each raises.

    """

    def __init__(self, teacher: TeacherConfig, cache: ResponseCache, failed: Mapping[str, TeacherError]) -> None:
        super().__init__(teacher, cache, offline=True)
        self._failed = failed
        self.deferred: dict[str, DeferredRequest] = {}

    async def complete(self, request: TeacherRequest) -> TeacherResponse:
        """Answer from the cache; raise a request's final failure; defer anything else.

        Raises:
            TeacherError: the request failed for good in an earlier batch.
            CacheMissError: the request is deferred to the next batch.

        """
        try:
            return await super().complete(request)
        except CacheMissError:
            key, request_json = self.cache_key(request)
            if key in self._failed:
                self.stats.failures += 1
                raise self._failed[key] from None
            self.deferred[key] = DeferredRequest(key, request_json, request)
            raise

    async def complete_many(self, requests: list[TeacherRequest]) -> list[Outcome | CacheMissError]:
        """Each request as :meth:`complete` answers it, its final failure or its deferral in its place."""
        outcomes: list[Outcome | CacheMissError] = []
        for request in requests:
            try:
                outcomes.append(await self.complete(request))
            except (TeacherError, CacheMissError) as outcome:
                outcomes.append(outcome)
        return outcomes
