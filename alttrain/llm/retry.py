"""When a failed teacher request goes again: its own delay, and the endpoint's circuit that holds everyone.

:func:`retry_delay` is one request's wait before its next try: the server's ``Retry-After``; nothing for
a malformed reply (the server answered; the reply broke); else full jitter under a ceiling that doubles
with each of the request's earlier failures on the server's side.
:class:`EndpointCircuit` is shared by every request of one client, so of its one endpoint (each Ray actor's
client has its own): while the server fails too many of the recent sends, nobody sends, then one probe
tests it (see :class:`~alttrain.llm.config.CircuitOptions`).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from alttrain.llm.config import CircuitOptions, TeacherConfig
from alttrain.llm.types import MalformedReplyError, TransientTeacherError


def retry_delay(teacher: TeacherConfig, error: TransientTeacherError, server_failures: int) -> float:
    """Seconds to wait before retrying a request that failed with ``error``.

    Args:
        teacher: where the base, cap and longest ``Retry-After`` are configured.
        error: this try's failure.
        server_failures: the request's earlier tries that failed on the server's side (the exponent).

    """
    if error.retry_after is not None:
        return min(error.retry_after, teacher.retry_after_max_s)
    if isinstance(error, MalformedReplyError):
        return 0.0
    ceiling = min(teacher.backoff_max_s, teacher.backoff_base_s * 2**server_failures)
    return random.uniform(0.0, ceiling)


def blames_server(error: BaseException) -> bool:
    """Whether a failed send says the server struggles (429, 5xx, timeouts, dropped connections)."""
    return isinstance(error, TransientTeacherError) and not isinstance(error, MalformedReplyError)


class EndpointCircuit:
    """Closed: sends go and their outcomes are counted. Open: nobody sends. Then half-open: one probe.

    Args:
        options: window, trip rate and cooldowns.

    """

    def __init__(self, options: CircuitOptions) -> None:
        self._options = options
        self._failures: deque[bool] = deque(maxlen=options.window)  # recent sends: True where the server failed
        self._open_until: float | None = None  # None: closed
        self._cooldown = options.cooldown_s
        self._probe: asyncio.Event | None = None  # set when the probe out now has settled
        self.trips = 0

    @property
    def closed(self) -> bool:
        """Whether sends go freely."""
        return self._open_until is None

    @asynccontextmanager
    async def passage(self) -> AsyncIterator[None]:
        """Wait until a send may go; count how it went (an exception blaming the server is a failure)."""
        probe = await self._admit()
        failed: bool | None = None  # None: cancelled, nothing learned
        try:
            yield
            failed = False
        except Exception as error:
            failed = blames_server(error)
            raise
        finally:
            self._settle(probe, failed)

    async def _admit(self) -> bool:
        """Wait while the circuit is open or a probe is out; True when this send is the probe."""
        while self._open_until is not None:
            wait = self._open_until - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            elif self._probe is None:
                self._probe = asyncio.Event()
                return True
            else:
                await self._probe.wait()
        return False

    def _settle(self, probe: bool, failed: bool | None) -> None:
        """Count one send's outcome; a probe's outcome closes or re-opens the circuit."""
        if probe:
            event, self._probe = self._probe, None
            if failed is True:
                self._trip()
            elif failed is False:
                self._open_until, self._cooldown = None, self._options.cooldown_s
            if event is not None:
                event.set()
            return
        if failed is None or not self.closed:  # sent before the trip: the probe decides now
            return
        self._failures.append(failed)
        window = self._options.window
        if len(self._failures) == window and sum(self._failures) >= self._options.trip_rate * window:
            self._trip()

    def _trip(self) -> None:
        """Open for the current cooldown, and double the next one (up to the cap)."""
        self._open_until = time.monotonic() + self._cooldown
        self._cooldown = min(self._cooldown * 2, self._options.cooldown_max_s)
        self._failures.clear()
        self.trips += 1
