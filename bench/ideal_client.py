"""The fastest any client could answer a fault script: a simulation of an ideal client, for the faults bench.

The ideal client has no overhead of its own (no CPU, no connection set-up), sends at most ``in_flight``
requests at once, each answered after exactly ``latency`` seconds, waits the server's ``Retry-After`` after a
429 and nothing at all after a 5xx or a malformed reply (no backoff: the fastest possible). What it may choose
is the order in which waiting tries take a free slot:

- ``retries_first``: a retry before every first try still waiting (alttrain's order);
- ``first_tries_first``: every first try before any retry;
- ``longest_chain_first``: a clairvoyant order no real client can use: the rows with the most faults first.

:func:`ideal_wall` plays one order out event by event and returns the time the last row is answered. A real
client's wall minus its overhead cannot beat the best of these on the same script, so the bench prints the
floor beside the measured ratio.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Sequence
from typing import Literal

from alttrain.testing import Fault

Order = Literal["retries_first", "first_tries_first", "longest_chain_first"]
ORDERS: tuple[Order, ...] = ("retries_first", "first_tries_first", "longest_chain_first")


def ideal_wall(
    scripts: Sequence[Sequence[Fault]], order: Order, *, in_flight: int, latency: float, retry_after: float
) -> float:
    """Seconds until the ideal client has every row answered (see the module docstring).

    Args:
        scripts: per row, the faults its tries get in turn (then it is answered).
        order: which waiting try takes a free slot first.
        in_flight: slots (requests out at once).
        latency: seconds the server takes to answer any try, fault or not.
        retry_after: seconds a 429 asks the client to wait.

    """
    rows = range(len(scripts))
    first_tries = deque(sorted(rows, key=lambda row: -len(scripts[row])) if order == "longest_chain_first" else rows)
    retries: deque[int] = deque()
    sleeping: list[tuple[float, int]] = []  # (ready at, row)
    answers: list[tuple[float, int]] = []  # (answered at, row) of the tries out now
    tries = [0] * len(scripts)
    free, now, last = in_flight, 0.0, 0.0
    while first_tries or retries or sleeping or answers:
        while sleeping and sleeping[0][0] <= now:
            retries.append(heapq.heappop(sleeping)[1])
        while free and (first_tries or retries):
            take_retry = retries and (order == "retries_first" or not first_tries)
            row = retries.popleft() if take_retry else first_tries.popleft()
            heapq.heappush(answers, (now + latency, row))
            free -= 1
        now = min(queue[0][0] for queue in (answers, sleeping) if queue)
        while answers and answers[0][0] <= now:
            _, row = heapq.heappop(answers)
            free += 1
            fault = scripts[row][tries[row]] if tries[row] < len(scripts[row]) else None
            tries[row] += 1
            if fault is None:
                last = now
            else:
                heapq.heappush(sleeping, (now + (retry_after if fault == Fault.RATE_LIMIT else 0.0), row))
    return last
