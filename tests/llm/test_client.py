import asyncio
import time
from dataclasses import replace
from pathlib import Path

import pytest

from alttrain.errors import CacheMissError, ConfigError
from alttrain.llm.cache import ResponseCache
from alttrain.llm.client import PerMinuteLimit, TeacherClient, backend_class
from alttrain.llm.config import TeacherConfig
from alttrain.llm.types import (
    PermanentTeacherError,
    SamplingParams,
    TeacherRequest,
    TeacherResponse,
    TransientTeacherError,
)
from alttrain.testing import FaultPlan, FaultServer, teacher_config


def request(prompt: str) -> TeacherRequest:
    return TeacherRequest([{"role": "user", "content": f"{prompt}\n\nDataset label: benign"}], SamplingParams())


def run_client(
    teacher: TeacherConfig, prompts: list[str], cache: ResponseCache | None = None, offline: bool = False
) -> tuple[list[TeacherResponse | Exception], TeacherClient]:
    async def run() -> tuple[list[TeacherResponse | Exception], TeacherClient]:
        async with TeacherClient(teacher, cache, offline=offline) as client:
            results = await asyncio.gather(*(client.complete(request(p)) for p in prompts), return_exceptions=True)
        return list(results), client

    return asyncio.run(run())


def test_transient_failures_are_retried_until_an_answer() -> None:
    with FaultServer() as server:
        prompt = "A [[faults:server_error,rate_limit,truncated]]"
        (result,), client = run_client(teacher_config(server.base_url), [prompt])
        assert server.stats().completions == 4
    assert isinstance(result, TeacherResponse)
    assert (client.stats.sent, client.stats.answered, client.stats.retries, client.stats.failures) == (4, 1, 3, 0)


def test_retry_after_is_honoured() -> None:
    teacher = teacher_config("", backoff_base_s=0.001, backoff_max_s=5.0)
    with FaultServer(FaultPlan(retry_after_s=0.6)) as server:
        started = time.perf_counter()
        (result,), _ = run_client(teacher.model_copy(update={"base_url": server.base_url}), ["[[faults:rate_limit]]"])
    assert isinstance(result, TeacherResponse)
    assert time.perf_counter() - started >= 0.6


def test_gives_up_after_max_retries() -> None:
    with FaultServer() as server:
        (result,), client = run_client(teacher_config(server.base_url, max_retries=2), ["[[fault:server_error]]"])
        assert server.stats().completions == 3
    assert isinstance(result, TransientTeacherError)
    assert (client.stats.retries, client.stats.failures) == (2, 1)


def test_permanent_errors_are_not_retried() -> None:
    with FaultServer() as server:
        (result,), client = run_client(teacher_config(server.base_url), ["[[fault:bad_request]]"])
        assert server.stats().completions == 1
    assert isinstance(result, PermanentTeacherError)
    assert client.stats.retries == 0


def test_malformed_and_cut_off_replies_are_retried_at_once() -> None:
    teacher = teacher_config("", backoff_base_s=300.0, backoff_max_s=300.0)  # a backoff would take minutes
    with FaultServer() as server:
        started = time.perf_counter()
        prompt = "A [[faults:malformed_json,truncated,no_choices]]"
        (result,), client = run_client(teacher.model_copy(update={"base_url": server.base_url}), [prompt])
        elapsed = time.perf_counter() - started
        assert server.stats().completions == 4
    assert isinstance(result, TeacherResponse)
    assert client.stats.retries == 3
    assert elapsed < 30.0


def test_retry_after_is_honoured_past_the_backoff_cap() -> None:
    teacher = teacher_config("", backoff_base_s=0.01, backoff_max_s=0.05)
    with FaultServer(FaultPlan(retry_after_s=0.8)) as server:
        started = time.perf_counter()
        (result,), _ = run_client(teacher.model_copy(update={"base_url": server.base_url}), ["[[faults:rate_limit]]"])
    assert isinstance(result, TeacherResponse)
    assert time.perf_counter() - started >= 0.75  # timer slack: asyncio may wake a little early


def test_circuit_holds_every_request_once_the_server_fails() -> None:
    """After a window of 500s, later requests wait the cooldown, then one probe goes before the rest."""
    teacher = teacher_config("", max_retries=0, concurrency=8,
                             circuit={"window": 8, "trip_rate": 0.5, "cooldown_s": 0.6})

    async def run(base_url: str) -> tuple[float, int, list[TeacherResponse | BaseException]]:
        async with TeacherClient(teacher.model_copy(update={"base_url": base_url}), None) as client:
            await asyncio.gather(*(client.complete(request(f"down {i} [[fault:server_error]]")) for i in range(8)),
                                 return_exceptions=True)
            started = time.perf_counter()
            answers = await asyncio.gather(*(client.complete(request(f"up {i}")) for i in range(4)),
                                           return_exceptions=True)
            return time.perf_counter() - started, client.circuit.trips, list(answers)

    with FaultServer(FaultPlan(latency_s=0.2)) as server:
        elapsed, trips, answers = asyncio.run(run(server.base_url))
        assert server.stats().completions == 12
    assert all(isinstance(answer, TeacherResponse) for answer in answers)
    assert trips == 1
    assert elapsed >= 0.55 + 2 * 0.2  # the cooldown, the probe alone, then the others


def test_cache_hit_sends_nothing(tmp_path: Path) -> None:
    with FaultServer() as server, ResponseCache(tmp_path / "c.sqlite") as cache:
        teacher = teacher_config(server.base_url)
        (first,), _ = run_client(teacher, ["q"], cache)
        (second,), client = run_client(teacher, ["q"], cache)
        assert server.stats().completions == 1
    assert first == second
    assert (client.stats.sent, client.stats.cache_hits) == (0, 1)


def test_every_response_is_cached_as_it_returns(tmp_path: Path) -> None:
    """While slow requests are still in flight, the ones already answered are in the cache."""

    async def run(teacher: TeacherConfig, cache: ResponseCache) -> int:
        async with TeacherClient(teacher, cache) as client:
            fast = asyncio.gather(*(client.complete(request(f"fast {i}")) for i in range(5)))
            slow = asyncio.ensure_future(client.complete(request("slow [[faults:hang]]")))
            await fast
            cached_while_slow_pending = len(cache)
            slow.cancel()
            return cached_while_slow_pending

    with FaultServer(FaultPlan(hang_s=30)) as server, ResponseCache(tmp_path / "c.sqlite") as cache:
        assert asyncio.run(run(teacher_config(server.base_url), cache)) == 5


def test_offline_client_answers_from_the_cache_only(tmp_path: Path) -> None:
    with FaultServer() as server, ResponseCache(tmp_path / "c.sqlite") as cache:
        run_client(teacher_config(server.base_url), ["q"], cache)
        # offline builds no backend and sends nothing
        results, client = run_client(teacher_config(server.base_url), ["q", "never asked"], cache, True)
        assert server.stats().completions == 1
    assert isinstance(results[0], TeacherResponse)
    assert isinstance(results[1], CacheMissError)
    with pytest.raises(ValueError, match="needs a cache"):
        TeacherClient(teacher_config("http://127.0.0.1:9/v1"), None, offline=True)


def test_concurrency_bounds_requests_in_flight() -> None:
    with FaultServer(FaultPlan(latency_s=0.1)) as server:
        results, _ = run_client(teacher_config(server.base_url, concurrency=6), [f"q{i}" for i in range(30)])
        assert server.stats().max_in_flight == 6
    assert all(isinstance(result, TeacherResponse) for result in results)


def test_requests_per_minute_limit() -> None:
    # 1200/min: 20 per one-second window, so 50 requests need at least 1.5 s
    with FaultServer() as server:
        started = time.perf_counter()
        run_client(teacher_config(server.base_url, requests_per_minute=1200), [f"q{i}" for i in range(50)])
        elapsed = time.perf_counter() - started
    assert elapsed >= 1.4  # a lower bound: a slow machine only makes it longer


def test_tokens_per_minute_limit_counts_prompts_and_completions() -> None:
    with FaultServer() as server:
        started = time.perf_counter()
        (result, *_), client = run_client(
            teacher_config(server.base_url, tokens_per_minute=6000, concurrency=1), [f"q{i}" for i in range(5)]
        )
        elapsed = time.perf_counter() - started
    assert isinstance(result, TeacherResponse)
    # ~70 completion tokens each, paid by the next send: 100 tokens per second of budget
    assert client.stats.completion_tokens > 250
    assert elapsed >= (client.stats.completion_tokens - result.completion_tokens - 100) / 100


def test_per_minute_limit_pays_large_charges_in_parts() -> None:
    async def run() -> float:
        limit = PerMinuteLimit(600)  # 10 per second
        started = time.perf_counter()
        await limit.charge(25)  # more than one window holds
        return time.perf_counter() - started

    assert asyncio.run(run()) >= 1.3


def test_backend_classes_resolve_lazily() -> None:
    assert backend_class("openai").__name__ == "OpenAIBackend"
    assert backend_class("openai").supports_structured_output


def test_every_registered_backend_resolves_with_its_capabilities() -> None:
    from typing import get_args

    from alttrain.llm.backends.base import TeacherBackend
    from alttrain.llm.config import BackendName
    from alttrain.llm.registry import BACKENDS

    assert set(get_args(BackendName)) == set(BACKENDS)
    classes = {name: backend_class(name) for name in BACKENDS}
    assert all(issubclass(cls, TeacherBackend) for cls in classes.values())
    assert [name for name, cls in classes.items() if not cls.is_model] == ["template"]
    assert [name for name, cls in classes.items() if cls.supports_batch] == ["openai"]
    assert [name for name, cls in classes.items() if cls.shared_endpoint] == ["openai"]
    assert sorted(name for name, cls in classes.items() if cls.supports_lora) == ["transformers", "vllm"]
    assert [name for name, cls in classes.items() if not cls.supports_ray] == ["transformers"]


def test_only_a_backend_that_loads_a_checkpoint_takes_one() -> None:
    with pytest.raises(ConfigError, match="backend 'openai' loads no checkpoint or adapter"):
        TeacherClient(TeacherConfig(backend="openai", model="m", checkpoint={"adapter": "x"}), None)


def test_complete_many_answers_from_the_cache_first_and_keeps_failures_in_place(tmp_path: Path) -> None:
    prompts = ["cached", "fresh", "[[fault:bad_request]] refused", "[[faults:server_error]] retried"]

    async def many(teacher: TeacherConfig, cache: ResponseCache, offline: bool = False) -> tuple[list, TeacherClient]:
        async with TeacherClient(teacher, cache, offline=offline) as client:
            return await client.complete_many([request(p) for p in prompts]), client

    with FaultServer() as server, ResponseCache(tmp_path / "c.sqlite") as cache:
        teacher = teacher_config(server.base_url)
        (cached,), _ = run_client(teacher, ["cached"], cache)
        outcomes, client = asyncio.run(many(teacher, cache))
        assert server.stats().completions == 1 + 4  # the cached one is not sent; the server error once more
        offline, _ = asyncio.run(many(teacher, cache, offline=True))
        assert len(cache) == 3  # every answer stored, the failure not
    assert outcomes[0] == cached and isinstance(outcomes[1], TeacherResponse)
    assert isinstance(outcomes[2], PermanentTeacherError) and isinstance(outcomes[3], TeacherResponse)
    stats = client.stats  # counted once each, by the one-request path the default complete_many sends through
    assert (stats.cache_hits, stats.sent, stats.answered, stats.retries, stats.failures) == (1, 4, 2, 1, 1)
    assert [type(o).__name__ for o in offline] == ["TeacherResponse", "TeacherResponse", "CacheMissError",
                                                   "TeacherResponse"]


def test_a_teacher_dump_leaves_the_model_under_test_options_out_until_used() -> None:
    """A teacher written before ``checkpoint``/``transformers`` existed keeps its dump, and so its fingerprint."""
    assert {"checkpoint", "transformers"}.isdisjoint(TeacherConfig(backend="openai", model="m").model_dump())
    used = TeacherConfig(backend="transformers", model="m", checkpoint={}, transformers={"batch_size": 2})
    assert TeacherConfig.model_validate(used.model_dump()) == used


def test_choices_to_a_backend_that_cannot_pick_are_refused_before_anything_is_sent() -> None:
    choosing = replace(request("Is this harmful?"), choices=(" harmful", " benign"))

    async def run(teacher: TeacherConfig) -> None:
        async with TeacherClient(teacher, None) as client:
            with pytest.raises(ConfigError, match="'openai' cannot pick among choices"):
                await client.complete(choosing)
            with pytest.raises(ConfigError, match="cannot pick among choices"):
                await client.complete_many([request("Fine."), choosing])

    with FaultServer() as server:
        teacher = teacher_config(server.base_url)
        assert not backend_class(teacher.backend).supports_choices
        asyncio.run(run(teacher))
        assert server.stats().completions == 0
