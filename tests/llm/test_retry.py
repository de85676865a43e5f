import asyncio
import contextlib
import time

import pytest

from alttrain.llm.client import TeacherClient
from alttrain.llm.config import CircuitOptions, TeacherConfig
from alttrain.llm.retry import EndpointCircuit, retry_delay
from alttrain.llm.types import (
    MalformedReplyError,
    PermanentTeacherError,
    SamplingParams,
    TeacherRequest,
    TransientTeacherError,
)
from alttrain.testing import FaultServer, teacher_config


def test_server_failures_back_off_with_full_jitter_under_a_doubling_ceiling() -> None:
    teacher = teacher_config("http://127.0.0.1:9/v1", backoff_base_s=0.5, backoff_max_s=3.0)
    for failures in range(5):
        samples = [retry_delay(teacher, TransientTeacherError("HTTP 500"), failures) for _ in range(300)]
        ceiling = min(3.0, 0.5 * 2**failures)
        assert min(samples) >= 0 and max(samples) <= ceiling
        assert max(samples) > 0.8 * ceiling and min(samples) < 0.2 * ceiling  # spread over the whole range


def test_malformed_replies_go_again_at_once_and_retry_after_is_capped_on_its_own() -> None:
    teacher = teacher_config("http://127.0.0.1:9/v1", backoff_base_s=5.0, backoff_max_s=5.0, retry_after_max_s=20.0)
    assert retry_delay(teacher, MalformedReplyError("cut off"), 3) == 0.0
    assert retry_delay(teacher, TransientTeacherError("HTTP 429", retry_after=12.5), 0) == 12.5  # past the backoff cap
    assert retry_delay(teacher, TransientTeacherError("HTTP 429", retry_after=99.0), 0) == 20.0


def test_defaults_are_short() -> None:
    teacher = TeacherConfig()
    assert (teacher.backoff_base_s, teacher.backoff_max_s, teacher.retry_after_max_s) == (0.1, 4.0, 60.0)


async def send(circuit: EndpointCircuit, error: Exception | None = None) -> float:
    """One send through the circuit that fails with ``error``; the seconds it was held before going."""
    asked = time.perf_counter()
    try:
        async with circuit.passage():
            held = time.perf_counter() - asked
            if error is not None:
                raise error
    except Exception:
        pass
    return held


def test_circuit_trips_on_server_failures_only_and_holds_everyone_for_the_cooldown() -> None:
    async def run() -> tuple[int, int, list[float], int]:
        circuit = EndpointCircuit(CircuitOptions(window=4, trip_rate=0.5, cooldown_s=0.4))
        for error in (MalformedReplyError("x"), PermanentTeacherError("400"), None, MalformedReplyError("x")):
            await send(circuit, error)
        not_server = circuit.trips
        for error in (None, TransientTeacherError("500"), None, TransientTeacherError("503")):
            await send(circuit, error)  # the last makes it half of the window failed on the server's side
        tripped = circuit.trips
        held = await asyncio.gather(*(send(circuit) for _ in range(3)))
        return not_server, tripped, sorted(held), circuit.trips

    not_server, tripped, held, trips = asyncio.run(run())
    assert (not_server, tripped, trips) == (0, 1, 1)
    assert held[0] >= 0.35  # everyone waits the cooldown (timer slack: asyncio may wake a little early)


def test_a_failing_probe_doubles_the_cooldown_and_a_good_one_closes() -> None:
    async def run() -> tuple[float, float, bool, int]:
        circuit = EndpointCircuit(CircuitOptions(window=2, trip_rate=1.0, cooldown_s=0.3, cooldown_max_s=5.0))
        for _ in range(2):
            await send(circuit, TransientTeacherError("500"))
        first = await send(circuit, TransientTeacherError("500"))  # the probe, after 0.3 s; it fails
        second = await send(circuit)  # waits 0.6 s, probes, succeeds
        return first, second, circuit.closed, circuit.trips

    first, second, closed, trips = asyncio.run(run())
    assert first >= 0.25 and second >= 0.55  # timer slack: asyncio may wake a little early
    assert closed and trips == 2


def test_the_probe_goes_alone() -> None:
    async def run() -> list[float]:
        circuit = EndpointCircuit(CircuitOptions(window=1, trip_rate=1.0, cooldown_s=0.1))
        await send(circuit, TransientTeacherError("500"))
        order: list[float] = []

        async def slow_send() -> None:
            async with circuit.passage():
                order.append(time.perf_counter())
                await asyncio.sleep(0.3)

        await asyncio.gather(*(slow_send() for _ in range(3)))
        return order

    first, *rest = asyncio.run(run())
    assert all(moment - first >= 0.25 for moment in rest)  # the others went after the probe answered


def test_a_cancelled_probe_hands_the_probe_on() -> None:
    async def run() -> int:
        circuit = EndpointCircuit(CircuitOptions(window=1, trip_rate=1.0, cooldown_s=0.05))
        await send(circuit, TransientTeacherError("500"))

        async def stuck() -> None:
            async with circuit.passage():
                await asyncio.sleep(30)

        probe = asyncio.ensure_future(stuck())
        await asyncio.sleep(0.1)  # the probe is out
        waiter = asyncio.ensure_future(send(circuit))
        await asyncio.sleep(0.05)
        probe.cancel()
        await asyncio.wait_for(waiter, timeout=5)
        return circuit.trips

    assert asyncio.run(run()) == 1


@pytest.mark.parametrize("trip_rate", [0.0, 1.5])
def test_trip_rate_must_be_a_fraction(trip_rate: float) -> None:
    with pytest.raises(ValueError, match="trip_rate"):
        CircuitOptions(trip_rate=trip_rate)


def test_over_http_the_circuit_trips_at_its_rate_not_below_and_a_good_probe_closes_it() -> None:
    """One send at a time to the fault server: malformed replies never count; the third 500 of five trips it."""
    teacher = teacher_config("", max_retries=0, concurrency=1,
                             circuit={"window": 5, "trip_rate": 0.6, "cooldown_s": 0.4})  # fmt: skip
    faults = ["", "[[fault:malformed_json]]", "[[fault:server_error]]", "[[fault:server_error]]",
              "[[fault:malformed_json]]", "[[fault:server_error]]"]  # fmt: skip

    async def run(base_url: str) -> tuple[list[int], bool, float, bool, int]:
        async with TeacherClient(teacher.model_copy(update={"base_url": base_url}), None) as client:
            trips = []
            for i, fault in enumerate(faults):
                with contextlib.suppress(TransientTeacherError):
                    await client.complete(TeacherRequest([{"role": "user", "content": f"q{i} {fault}"}],
                                                         SamplingParams()))  # fmt: skip
                trips.append(client.circuit.trips)
            open_after = not client.circuit.closed
            started = time.perf_counter()
            await client.complete(TeacherRequest([{"role": "user", "content": "the probe"}], SamplingParams()))
            return trips, open_after, time.perf_counter() - started, client.circuit.closed, client.circuit.trips

    with FaultServer() as server:
        trips, open_after, held, closed, total = asyncio.run(run(server.base_url))
        assert server.stats().completions == len(faults) + 1  # nothing sent while open but the probe
    assert trips == [0, 0, 0, 0, 0, 1]  # 2 of 5 server failures (malformed: no) stay below 0.6; the third trips
    assert open_after and held >= 0.35  # the probe waited the cooldown (timer slack: asyncio may wake early)
    assert closed and total == 1
