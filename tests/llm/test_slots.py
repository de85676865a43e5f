import asyncio

from alttrain.llm.slots import Slots


def test_waiting_retries_go_before_waiting_first_tries() -> None:
    async def run() -> list[str]:
        slots = Slots(1)
        order: list[str] = []

        async def take(name: str, retry: bool) -> None:
            async with slots.hold(retry=retry):
                order.append(name)
                await asyncio.sleep(0.01)

        holder = asyncio.ensure_future(take("holder", False))
        await asyncio.sleep(0)
        waiters = [asyncio.ensure_future(take(name, retry)) for name, retry in
                   [("first 1", False), ("first 2", False), ("retry 1", True), ("retry 2", True)]]
        await asyncio.gather(holder, *waiters)
        return order

    assert asyncio.run(run()) == ["holder", "retry 1", "retry 2", "first 1", "first 2"]


def test_a_cancelled_waiter_loses_no_slot() -> None:
    async def run() -> int:
        slots = Slots(2)
        peak = 0
        inside = 0

        async def take() -> None:
            nonlocal peak, inside
            async with slots.hold(retry=False):
                inside += 1
                peak = max(peak, inside)
                await asyncio.sleep(0.02)
                inside -= 1

        tasks = [asyncio.ensure_future(take()) for _ in range(6)]
        await asyncio.sleep(0)
        tasks[3].cancel()
        tasks[4].cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.wait_for(asyncio.gather(*(take() for _ in range(4))), timeout=5)  # both slots still there
        return peak

    assert asyncio.run(run()) == 2
