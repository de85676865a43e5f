"""One requests and tokens budget per endpoint for a whole Ray run, shared by every client that sends to it.

A small asynchronous Ray actor (:class:`EndpointBudget`, no CPU of its own) owns the endpoint's per-minute
limits, exactly those a local client builds (:class:`~alttrain.llm.client.PerMinuteLimit`). Each worker's
client charges every send to it through a :class:`SharedLimit`, which keeps the client's ``charge``/``owe``
interface (the client knows nothing of Ray). Leases are exactly what a send needs (one request, its estimated
prompt tokens; completion tokens owed afterwards), so nothing is held back: a worker that starts late, or has
run out of work, leaves the whole budget to those that send.

The budget actor's process takes a second or two to start; the driver does not wait for it. Until the actor
is up, the driver charges its own limits (:class:`DriverLimit`, the local client's); then it hands over: it
tells the actor what it charged within the last window (the actor counts that as spent), and the actor, closed
until then, opens to every worker. So the endpoint never sees more than its budget, and none of it idles.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Literal

from alttrain.llm.client import PerMinuteLimit, RateLimits
from alttrain.llm.config import TeacherConfig

Kind = Literal["requests", "tokens"]


class EndpointBudget:
    """The Ray actor that owns one endpoint's budgets (async: every waiting charge on its one event loop).

    It grants nothing until :meth:`open` (the driver's hand-over).

    Args:
        requests_per_minute: the endpoint's request budget (None: unlimited).
        tokens_per_minute: its token budget (None: unlimited).

    """

    def __init__(self, requests_per_minute: int | None, tokens_per_minute: int | None) -> None:
        budgets = {"requests": requests_per_minute, "tokens": tokens_per_minute}
        self._limits = {kind: PerMinuteLimit(budget) for kind, budget in budgets.items() if budget}
        self._opened = asyncio.Event()

    async def ready(self) -> None:
        """Answer once the actor is up."""

    async def open(self, spent: dict[str, float]) -> None:
        """Count what the driver ``spent`` on its own limits as owed, then grant to every worker."""
        for kind, amount in spent.items():
            self._limits[kind].owe(amount)
        self._opened.set()

    async def charge(self, kind: Kind, amount: float) -> None:
        """Return once the budget is open and ``amount`` (plus what is owed) fits the ``kind`` budget."""
        await self._opened.wait()
        await self._limits[kind].charge(amount)

    async def owe(self, kind: Kind, amount: float) -> None:
        """Record use known only afterwards (completion tokens); the next charge pays it."""
        self._limits[kind].owe(amount)


class SharedLimit:
    """A client's :class:`~alttrain.llm.client.Limit` over one budget of an :class:`EndpointBudget` actor.

    Args:
        budget: the actor's handle (picklable: it travels to every worker).
        kind: which of its budgets.

    """

    def __init__(self, budget: Any, kind: Kind) -> None:
        self._budget, self._kind = budget, kind

    def owe(self, amount: float) -> None:
        """Record use known only afterwards (sent without waiting for it)."""
        self._budget.owe.remote(self._kind, amount)

    async def charge(self, amount: float) -> None:
        """Wait until the shared budget lets ``amount`` through."""
        await self._budget.charge.remote(self._kind, amount)


class DriverLimit:
    """The driver's limit: its own :class:`PerMinuteLimit` until :meth:`hand_over`, the shared one after.

    Args:
        per_minute: the endpoint's budget.
        shared: the same budget on the :class:`EndpointBudget` actor.

    """

    def __init__(self, per_minute: int, shared: SharedLimit) -> None:
        self._own, self._shared = PerMinuteLimit(per_minute), shared
        self._recent: deque[tuple[float, float]] = deque()  # (when, amount) of the charges it granted itself
        self._handed = False

    def owe(self, amount: float) -> None:
        """Record use known only afterwards, where the next charge is made."""
        (self._shared if self._handed else self._own).owe(amount)

    async def charge(self, amount: float) -> None:
        """Wait on its own limit before the hand-over, on the shared one after."""
        if self._handed:
            await self._shared.charge(amount)
            return
        await self._own.charge(amount)
        if self._handed:  # granted here after the hand-over: the shared budget pays it back
            self._shared.owe(amount)
        else:
            self._recent.append((time.monotonic(), amount))

    def hand_over(self) -> float:
        """Charge the shared limit from now on; return what it must count as spent (the last window's, and owed)."""
        self._handed = True
        since = time.monotonic() - self._own.window
        return sum(amount for when, amount in self._recent if when > since) + self._own.owed


@dataclass(frozen=True)
class SharedBudget:
    """An endpoint's :class:`EndpointBudget` actor, the actors' limits over it, and the driver's."""

    actor: Any
    limits: RateLimits  # the actors': every charge on the budget actor
    driver: RateLimits  # the driver's: its own until the hand-over

    async def hand_over(self) -> None:
        """Once the budget actor is up, move the driver onto it and open it to every worker."""
        await self.actor.ready.remote()
        spent = {kind: limit.hand_over() for kind, limit in (("requests", self.driver.requests),
                                                             ("tokens", self.driver.tokens))
                 if isinstance(limit, DriverLimit)}  # fmt: skip
        await self.actor.open.remote(spent)


def shared_budget(teacher: TeacherConfig) -> SharedBudget | None:
    """Start the budget actor for ``teacher``'s endpoint (None: it has no rate limits to share)."""
    import ray

    requests, tokens = teacher.requests_per_minute, teacher.tokens_per_minute
    if not requests and not tokens:
        return None
    actor = ray.remote(EndpointBudget).options(num_cpus=0).remote(requests, tokens)
    shared = {kind: SharedLimit(actor, kind) if budget else None
              for kind, budget in (("requests", requests), ("tokens", tokens))}  # fmt: skip
    driver = {kind: DriverLimit(budget, limit) if budget and limit else None
              for (kind, limit), budget in zip(shared.items(), (requests, tokens), strict=True)}  # fmt: skip
    return SharedBudget(actor, RateLimits(shared["requests"], shared["tokens"]),
                        RateLimits(driver["requests"], driver["tokens"]))  # fmt: skip
