"""The teacher client's in-flight slots, where a retry goes before every first try still waiting.

A request that failed has waited its turn once already; sent behind the queue of first tries, its
retry (and any retry after it) would land at the end of the run, where a chain of faults on one row
becomes the run's tail. Served first, the chain plays out while first tries keep the other slots busy.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class Slots:
    """At most ``size`` holders at once; waiting retries are served before waiting first tries, each FIFO.

    Args:
        size: the number of slots (the teacher's concurrency).

    """

    def __init__(self, size: int) -> None:
        self._free = size
        self._retries: deque[asyncio.Future[None]] = deque()
        self._first_tries: deque[asyncio.Future[None]] = deque()

    @property
    def waiting(self) -> int:
        """How many wait for a slot (cancelled waiters not yet dropped included)."""
        return len(self._retries) + len(self._first_tries)

    @asynccontextmanager
    async def hold(self, *, retry: bool) -> AsyncIterator[None]:
        """Hold a slot for the body of the ``async with``; ``retry`` goes ahead of first tries."""
        await self._acquire(self._retries if retry else self._first_tries)
        try:
            yield
        finally:
            self._release()

    async def _acquire(self, queue: deque[asyncio.Future[None]]) -> None:
        """Take a free slot, or wait in ``queue`` until a release hands one over."""
        if self._free > 0 and not self.waiting:
            self._free -= 1
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue.append(turn)
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():  # handed a slot, then cancelled: pass it on
                self._release()
            elif turn in queue:
                queue.remove(turn)
            raise

    def _release(self) -> None:
        """Hand the slot to the next waiter (retries first), or free it."""
        for queue in (self._retries, self._first_tries):
            while queue:
                turn = queue.popleft()
                if not turn.done():
                    turn.set_result(None)
                    return
        self._free += 1
