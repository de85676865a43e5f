import asyncio
import email.utils
import json
import time

import pytest

from alttrain.errors import ConfigError, TeacherAccessError
from alttrain.llm.backends.openai_backend import PLACEHOLDER_API_KEY, OpenAIBackend, parse_retry_after, redact
from alttrain.llm.types import (
    MalformedReplyError,
    PermanentTeacherError,
    SamplingParams,
    TeacherRequest,
    TeacherResponse,
    TransientTeacherError,
)
from alttrain.synthesis.trace_json import parse_trace_json, trace_schema
from alttrain.testing import Fault, FaultPlan, FaultServer, teacher_config


def request(prompt: str = "Dataset label: benign", schema: dict | None = None, **sampling) -> TeacherRequest:
    messages = [{"role": "system", "content": "write a trace"}, {"role": "user", "content": prompt}]
    return TeacherRequest(messages, SamplingParams(**sampling), json_schema=schema)


def complete(backend: OpenAIBackend, *requests: TeacherRequest) -> list[TeacherResponse | Exception]:
    async def run() -> list[TeacherResponse | Exception]:
        try:
            return [await _attempt(backend, one) for one in requests]
        finally:
            await backend.aclose()

    return asyncio.run(run())


async def _attempt(backend: OpenAIBackend, one: TeacherRequest) -> TeacherResponse | Exception:
    try:
        return await backend.complete(one)
    except Exception as error:  # noqa: BLE001 - the test inspects which error
        return error


def test_structured_request_sends_schema_sampling_and_penalty() -> None:
    plan = FaultPlan(record_requests=True, reasoning_content="first I think")
    with FaultServer(plan) as server:
        backend = OpenAIBackend(teacher_config(server.base_url, model="teacher-x"), api_key="sk-test")
        schema = trace_schema({"answer": 50})
        (response,) = complete(backend, request(schema=schema, seed=7, repetition_penalty=1.2, max_tokens=99))
        (seen,) = server.recorded()
    assert isinstance(response, TeacherResponse)
    assert parse_trace_json(response.text).verdict == "benign"
    assert response.reasoning_content == "first I think"
    assert response.prompt_tokens > 0 and response.completion_tokens > 0 and response.finish_reason == "stop"
    body = seen.body
    assert body["model"] == "teacher-x"
    assert body["response_format"]["json_schema"]["schema"] == schema
    assert body["response_format"]["json_schema"]["name"] == "alttrain_trace"
    assert (body["seed"], body["max_tokens"], body["repetition_penalty"], body["repeat_penalty"]) == (7, 99, 1.2, 1.2)
    assert seen.authorization == "Bearer sk-test"


def test_plain_request_gets_text_and_sends_no_optional_fields() -> None:
    with FaultServer(FaultPlan(record_requests=True)) as server:
        backend = OpenAIBackend(teacher_config(server.base_url))
        (response,) = complete(backend, request(seed=None))
        body = server.recorded()[0].body
    assert response.text.startswith("<think>")
    assert not {"response_format", "seed", "repetition_penalty"} & set(body)


@pytest.mark.parametrize(
    ("fault", "error", "message"),
    [
        (Fault.RATE_LIMIT, TransientTeacherError, "HTTP 429"),
        (Fault.SERVER_ERROR, TransientTeacherError, "HTTP 500"),
        (Fault.HANG, TransientTeacherError, "Timeout"),
        (Fault.TRUNCATED, MalformedReplyError, "response body cut off: APIConnectionError: Connection error."),
        (Fault.MALFORMED_JSON, MalformedReplyError, "malformed response body"),
        (Fault.NO_CHOICES, MalformedReplyError, "no choices"),
        (Fault.WRONG_TYPES, MalformedReplyError, "usage.prompt_tokens is 'n/a', not a whole number"),
        (Fault.BAD_REQUEST, PermanentTeacherError, "HTTP 400"),
    ],
)
def test_failures_map_onto_the_contract(fault: Fault, error: type, message: str) -> None:
    with FaultServer(FaultPlan(by_order={1: fault}, hang_s=30, retry_after_s=2.5)) as server:
        backend = OpenAIBackend(teacher_config(server.base_url, timeout_s=0.5))
        failed, recovered = complete(backend, request(), request())
    assert type(failed) is error and message in str(failed)
    assert isinstance(recovered, TeacherResponse)  # the backend is still usable afterwards
    if fault == Fault.RATE_LIMIT:
        assert failed.retry_after == 2.5


def test_pool_really_holds_the_configured_concurrency() -> None:
    async def run(backend: OpenAIBackend) -> None:
        await asyncio.gather(*(backend.complete(request(f"Q{i}")) for i in range(96)))
        await backend.aclose()

    with FaultServer(FaultPlan(latency_s=0.3)) as server:
        asyncio.run(run(OpenAIBackend(teacher_config(server.base_url, concurrency=48))))
        assert server.stats().max_in_flight == 48


def test_missing_key_for_openai_itself_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ALTTRAIN_TEST_KEY", raising=False)
    with pytest.raises(ConfigError, match=r"\$ALTTRAIN_TEST_KEY"):
        OpenAIBackend(teacher_config(None, api_key_env="ALTTRAIN_TEST_KEY"))


def test_local_servers_get_a_placeholder_never_the_openai_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-real-secret")
    with FaultServer(FaultPlan(record_requests=True)) as server:
        complete(OpenAIBackend(teacher_config(server.base_url)), request())  # no api_key_env: no key to send
        assert server.recorded()[0].authorization == f"Bearer {PLACEHOLDER_API_KEY}"


def test_an_unset_key_variable_stops_before_any_request(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ALTTRAIN_TEST_KEY", raising=False)
    with FaultServer() as server:
        with pytest.raises(ConfigError, match=r"the key variable \$ALTTRAIN_TEST_KEY is not set"):
            OpenAIBackend(teacher_config(server.base_url, api_key_env="ALTTRAIN_TEST_KEY"))
        monkeypatch.setenv("ALTTRAIN_TEST_KEY", "")  # set but empty: no key either
        with pytest.raises(ConfigError, match="is not set"):
            OpenAIBackend(teacher_config(server.base_url, api_key_env="ALTTRAIN_TEST_KEY"))
        assert server.stats().completions == 0


def test_key_from_the_configured_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALTTRAIN_TEST_KEY", "sk-from-env")
    with FaultServer(FaultPlan(record_requests=True)) as server:
        complete(OpenAIBackend(teacher_config(server.base_url, api_key_env="ALTTRAIN_TEST_KEY")), request())
        assert server.recorded()[0].authorization == "Bearer sk-from-env"


def test_parse_retry_after() -> None:
    assert parse_retry_after({"retry-after": "3"}) == 3.0
    assert parse_retry_after({"retry-after": "0.25"}) == 0.25
    assert parse_retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert parse_retry_after({}) is None
    assert parse_retry_after({"retry-after": "soon"}) is None
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= parse_retry_after({"retry-after": later}) <= 31
    assert parse_retry_after({"retry-after": "-4"}) == 0.0


def test_request_body_is_plain_json() -> None:
    backend = OpenAIBackend(teacher_config("http://127.0.0.1:9/v1"))
    body = backend.request_body(request(schema=trace_schema()))
    assert json.loads(json.dumps(body)) == body
    asyncio.run(backend.aclose())


def test_a_refused_key_is_a_run_level_error_that_names_endpoint_and_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALTTRAIN_TEST_KEY", "sk-wrong-key-0123456789")
    with FaultServer(FaultPlan(api_key="sk-right-key-9876543210")) as server:
        (error,) = complete(OpenAIBackend(teacher_config(server.base_url, api_key_env="ALTTRAIN_TEST_KEY")), request())
    assert isinstance(error, TeacherAccessError)
    message = str(error)
    assert f"teacher endpoint {server.base_url} answered HTTP 401 (authentication failed)" in message
    assert "$ALTTRAIN_TEST_KEY" in message and "sk-wrong" not in message and "sk-right" not in message


def test_an_unknown_model_stops_the_run_too() -> None:
    with FaultServer(FaultPlan(models=["the-served-model"])) as server:
        (error,) = complete(OpenAIBackend(teacher_config(server.base_url)), request())
    assert isinstance(error, TeacherAccessError)
    assert "answered HTTP 404: it has no model 'fault-teacher'" in str(error)


def test_a_server_echoing_the_key_never_gets_it_into_the_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALTTRAIN_TEST_KEY", "plainkey0123456789")  # not key-shaped: only the value itself tells
    with FaultServer() as server:
        backend = OpenAIBackend(teacher_config(server.base_url, api_key_env="ALTTRAIN_TEST_KEY"))
        (error,) = complete(backend, request("[[fault:bad_request]] neutral"))
    assert isinstance(error, PermanentTeacherError)
    assert "plainkey0123456789" not in str(error) and "[redacted]" in str(error)
    assert redact("token sk-abcdefghijkl and Bearer xyz.123 stay out") == "token [redacted] and [redacted] stay out"


def test_a_key_goes_only_to_the_endpoint_it_is_configured_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-secret-value")
    with FaultServer(FaultPlan(record_requests=True)) as server:
        complete(OpenAIBackend(teacher_config(server.base_url)), request())  # no api_key_env: no key
        assert server.recorded()[0].authorization == f"Bearer {PLACEHOLDER_API_KEY}"
    assert teacher_config(None).key_variable == "OPENAI_API_KEY"  # OpenAI itself reads OPENAI_API_KEY
    assert teacher_config("http://example.test/v1").key_variable is None
