"""vLLM cannot run here (no GPU, not installed): the missing-vLLM error, and the batcher it relies on.

The batcher is exercised with a plain batch function standing in for ``LLM.chat``: what is under
test is the gathering of concurrent requests into batches and the handling of a failing batch.
"""

import asyncio
import sys
import threading

import pytest

from alttrain.errors import ConfigError
from alttrain.llm.backends.vllm_backend import RequestBatcher, VLLMBackend
from alttrain.llm.config import TeacherConfig
from alttrain.llm.types import PermanentTeacherError, SamplingParams, TeacherRequest, TeacherResponse


def request(text: str) -> TeacherRequest:
    return TeacherRequest([{"role": "user", "content": text}], SamplingParams())


class EchoEngine:
    """A blocking batch function: answers each request with its own text; refuses texts saying 'bad'."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.threads: set[str] = set()

    def __call__(self, requests: list[TeacherRequest]) -> list[TeacherResponse]:
        texts = [r.messages[0]["content"] for r in requests]
        self.calls.append(texts)
        self.threads.add(threading.current_thread().name)
        if any("bad" in t for t in texts):
            raise ValueError("prompt longer than max_model_len")
        return [TeacherResponse(text=t.upper(), completion_tokens=len(t)) for t in texts]


def test_without_vllm_the_backend_says_to_install_the_gpu_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)  # makes `import vllm` fail as if not installed
    with pytest.raises(
        ConfigError, match=r"backend 'vllm' needs vLLM, which is not installed .*pip install '\.\[gpu\]'"
    ):
        VLLMBackend(TeacherConfig(backend="vllm", model="Qwen/Qwen3-8B"))


def test_concurrent_requests_become_one_batch_in_a_worker_thread():
    engine = EchoEngine()

    async def run():
        batcher = RequestBatcher(engine, window_s=0.05)
        try:
            return await asyncio.gather(*(batcher.submit(request(f"r{i}")) for i in range(10))), batcher
        finally:
            await batcher.aclose()

    responses, batcher = asyncio.run(run())
    assert [r.text for r in responses] == [f"R{i}" for i in range(10)]
    assert batcher.batch_sizes == [10] and len(engine.calls) == 1
    assert threading.main_thread().name not in engine.threads


def test_batches_are_capped_and_later_requests_still_served():
    engine = EchoEngine()

    async def run():
        batcher = RequestBatcher(engine, window_s=0.02, max_batch=4)
        try:
            first = await asyncio.gather(*(batcher.submit(request(f"a{i}")) for i in range(10)))
            later = await batcher.submit(request("later"))
            return first, later, batcher.batch_sizes
        finally:
            await batcher.aclose()

    first, later, sizes = asyncio.run(run())
    assert [r.text for r in first] == [f"A{i}" for i in range(10)] and later.text == "LATER"
    assert sizes == [4, 4, 2, 1]


def test_a_failing_batch_is_retried_alone_so_only_the_bad_request_fails():
    engine = EchoEngine()

    async def run():
        batcher = RequestBatcher(engine, window_s=0.05)
        try:
            texts = ["ok1", "bad", "ok2"]
            return await asyncio.gather(*(batcher.submit(request(t)) for t in texts), return_exceptions=True)
        finally:
            await batcher.aclose()

    good1, bad, good2 = asyncio.run(run())
    assert good1.text == "OK1" and good2.text == "OK2"
    assert isinstance(bad, PermanentTeacherError) and "max_model_len" in str(bad)
    assert engine.calls == [["ok1", "bad", "ok2"], ["ok1"], ["bad"], ["ok2"]]


def test_closing_fails_requests_in_flight_and_queued():
    release = threading.Event()

    def slow_engine(requests: list[TeacherRequest]) -> list[TeacherResponse]:
        release.wait(timeout=5)
        return [TeacherResponse(text="late") for _ in requests]

    async def run():
        batcher = RequestBatcher(slow_engine, window_s=0.01, max_batch=1)
        tasks = [asyncio.create_task(batcher.submit(request(f"q{i}"))) for i in range(3)]
        await asyncio.sleep(0.1)  # the first is running, the others queue behind it
        await batcher.aclose()
        release.set()
        return await asyncio.gather(*tasks, return_exceptions=True)

    results = asyncio.run(run())  # returns at all: nobody is left waiting forever
    assert all(isinstance(r, PermanentTeacherError) and "closed" in str(r) for r in results)
