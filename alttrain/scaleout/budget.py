"""One requests and tokens budget per endpoint for a whole Ray run, shared by every client that sends to it.

A small asynchronous Ray actor (:class:`EndpointBudget`, no CPU of its own) owns the endpoint's per-minute
limits, exactly those a local client builds (:class:`~alttrain.llm.client.PerMinuteLimit`). Each worker's
client (the actors' and the driver's) charges every send to it through a :class:`SharedLimit`, which keeps the
client's ``charge``/``owe`` interface (the client knows nothing of Ray). Leases are exactly what a send needs
(one request, its estimated prompt tokens; completion tokens owed afterwards), so nothing is held back: a
worker that starts late, or has run out of work, leaves the whole budget to those that send.
"""

from __future__ import annotations

from typing import Any, Literal

from alttrain.llm.client import PerMinuteLimit, RateLimits
from alttrain.llm.config import TeacherConfig

Kind = Literal["requests", "tokens"]


class EndpointBudget:
    """The Ray actor that owns one endpoint's budgets (async: every waiting charge on its one event loop).

    Args:
        requests_per_minute: the endpoint's request budget (None: unlimited).
        tokens_per_minute: its token budget (None: unlimited).

    """

    def __init__(self, requests_per_minute: int | None, tokens_per_minute: int | None) -> None:
        budgets = {"requests": requests_per_minute, "tokens": tokens_per_minute}
        self._limits = {kind: PerMinuteLimit(budget) for kind, budget in budgets.items() if budget}

    async def charge(self, kind: Kind, amount: float) -> None:
        """Return once ``amount`` (plus what is owed) fits the ``kind`` budget."""
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


def shared_limits(teacher: TeacherConfig) -> RateLimits | None:
    """Start the budget actor for ``teacher``'s endpoint; its limits for every worker (None: nothing to share)."""
    import ray

    requests, tokens = teacher.requests_per_minute, teacher.tokens_per_minute
    if not requests and not tokens:
        return None
    budget = ray.remote(EndpointBudget).options(num_cpus=0).remote(requests, tokens)
    return RateLimits(SharedLimit(budget, "requests") if requests else None,
                      SharedLimit(budget, "tokens") if tokens else None)  # fmt: skip
