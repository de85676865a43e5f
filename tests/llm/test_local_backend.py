"""The local backend against the real SmolLM2-135M server over loopback.

It proves the LLM path (server up, schema-constrained JSON back, server down), not quality: the
counts of outputs that parse and that validate are printed (``pytest -s``), only the JSON shape is
asserted, since the grammar guarantees it once every string is bounded.
"""

import asyncio

import polars as pl
import pytest

from alttrain.errors import LocalServerError
from alttrain.llm.backends.local import LocalBackend, bound_strings
from alttrain.llm.client import TeacherClient
from alttrain.llm.config import TeacherConfig
from alttrain.llm.types import PermanentTeacherError, TeacherRequest
from alttrain.policy import load_policy
from alttrain.processes import process_gone
from alttrain.prompt_sets.builtin import HarmBenchSource, ReasoningGymSource
from alttrain.structure import StructureSpec
from alttrain.synthesis.config import SynthesisConfig
from alttrain.synthesis.engine import synthesize
from alttrain.synthesis.messages import TraceMessages
from alttrain.synthesis.trace_json import parse_trace_json, trace_schema

SPEC = StructureSpec()


def local_teacher(**local) -> TeacherConfig:
    return TeacherConfig(
        backend="local",
        model="smollm2-135m",
        sampling={"max_tokens": 256, "temperature": 0.2, "seed": 0},
        local={"context_size": 2048, "max_field_chars": 64, **local},
    )


@pytest.fixture(scope="module")
def records() -> list[dict]:
    harmful = HarmBenchSource().load().head(2)
    benign = ReasoningGymSource(size=2).load()
    return pl.concat([harmful, benign]).to_dicts()


def test_smollm2_answers_schema_json_through_the_backend(records):
    teacher = local_teacher(parallel=2)  # two server slots decode concurrent requests together
    messages = TraceMessages(SPEC, structured=True)
    policy = load_policy()
    schema = trace_schema()  # no maxLength: the backend must bound the strings itself

    async def run():
        backend = LocalBackend(teacher)
        await backend.start()
        pid = backend.server.pid
        try:
            requests = [
                TeacherRequest(
                    messages.initial(r, "rewrite" if r.get("original_reasoning") else "generate",
                                     policy.resolve(r.get("category"), r["label"])),
                    teacher.sampling.to_params(),
                    record=r,
                    json_schema=schema,
                )
                for r in records
            ]
            return pid, await asyncio.gather(*(backend.complete(request) for request in requests))
        finally:
            await backend.aclose()

    pid, responses = asyncio.run(run())
    assert process_gone(pid)
    parsed = valid = 0
    for record, response in zip(records, responses, strict=True):
        assert response.finish_reason == "stop"  # bounded strings end before max_tokens
        assert 0 < response.completion_tokens < 256 and response.prompt_tokens > 0
        fields = parse_trace_json(response.text)  # the grammar holds the shape
        parsed += 1
        valid += not SPEC.validate(SPEC.render(fields), record["label"])
        assert all(len(getattr(fields, name)) <= 64 for name in ("understanding", "assessment", "reasoning", "answer"))
    print(f"\nSmolLM2-135M via LocalBackend: {parsed}/{len(records)} parse as trace JSON, {valid} validate")


def test_the_real_engine_runs_on_the_local_teacher_and_counts_add_up(records):
    config = SynthesisConfig(teacher=local_teacher(), max_repair_attempts=0)

    async def run():
        async with TeacherClient(config.teacher, cache=None) as client:
            return await synthesize(pl.DataFrame(records[1:3]), config, SPEC, client), client

    outcome, client = asyncio.run(run())
    frame = outcome.frame
    assert frame.height == 2 and set(frame["status"]) <= {"ok", "quarantined"}
    assert frame.filter(pl.col("status") == "quarantined")["reason"].null_count() == 0
    assert client.stats.sent == client.stats.answered == 2
    print(f"\nengine on SmolLM2: {frame['status'].to_list()} {frame['reason'].to_list()}")


def test_complete_before_start_is_a_permanent_error():
    backend = LocalBackend(local_teacher())
    request = TeacherRequest([{"role": "user", "content": "hi"}], local_teacher().sampling.to_params())
    with pytest.raises(PermanentTeacherError, match="not started"):
        asyncio.run(backend.complete(request))
    asyncio.run(backend.aclose())  # closing a backend that never started is fine
    assert backend.name == "local:smollm2-135m"


def test_bound_strings_only_fills_unbounded_free_strings():
    schema = trace_schema({"answer": 50})
    bounded = bound_strings(schema, 300)
    props = bounded["properties"]
    assert props["understanding"]["maxLength"] == 300 and props["reasoning"]["maxLength"] == 300
    assert props["answer"]["maxLength"] == 50
    assert "maxLength" not in props["verdict"]
    assert "maxLength" not in schema["properties"]["understanding"]  # the request's schema is not mutated


def test_a_configured_gguf_that_is_missing_fails_at_start():
    backend = LocalBackend(local_teacher(gguf_path="/nonexistent/model.gguf"))
    with pytest.raises(LocalServerError, match="model.gguf: GGUF model file not found"):
        asyncio.run(backend.start())
    assert backend.server.pid is None
