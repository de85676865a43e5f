import asyncio
import json
import time
import urllib.request

import pytest

from alttrain.structure import StructureSpec
from alttrain.synthesis.trace_json import parse_trace_json, trace_schema
from alttrain.testing import Fault, FaultPlan, FaultServer, FaultServerProcess


async def post(port: int, body: dict) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 request over a raw socket: status, headers, body (as much as arrives)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    payload = json.dumps(body).encode()
    writer.write(
        b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
        + f"content-length: {len(payload)}\r\n\r\n".encode()
        + payload
    )
    await writer.drain()
    status = int((await reader.readline()).split()[1])
    headers = {}
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        headers[name.strip().lower()] = value.strip()
    try:
        content = await reader.readexactly(int(headers["content-length"]))
    except asyncio.IncompleteReadError as error:  # the server closed early (a truncated body)
        content = error.partial
    writer.close()
    return status, headers, content


def chat(prompt: str, schema: dict | None = None) -> dict:
    body: dict = {"model": "m", "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": prompt}]}
    if schema is not None:
        body["response_format"] = {"type": "json_schema", "json_schema": {"name": "t", "schema": schema}}
    return body


def test_fault_free_answers_are_valid_traces_for_the_label() -> None:
    with FaultServer() as server:
        for label in ("harmful", "benign"):
            status, _, content = asyncio.run(post(server.port, chat(f"Q\n\nDataset label: {label}\n", trace_schema())))
            assert status == 200
            text = json.loads(content)["choices"][0]["message"]["content"]
            fields = parse_trace_json(text)
            assert fields.verdict == label
            assert StructureSpec().validate(StructureSpec().render(fields), label) == []
            _, _, content = asyncio.run(post(server.port, chat(f"[[label:{label}]] Q")))
            text = json.loads(content)["choices"][0]["message"]["content"]
            assert StructureSpec().validate(text, label) == []


def test_max_length_in_the_schema_is_respected() -> None:
    schema = trace_schema({"understanding": 12, "answer": 9})
    with FaultServer() as server:
        _, _, content = asyncio.run(post(server.port, chat("Q", schema)))
    data = json.loads(json.loads(content)["choices"][0]["message"]["content"])
    assert len(data["understanding"]) <= 12 and len(data["answer"]) <= 9


def test_http_faults_by_order() -> None:
    plan = FaultPlan(
        by_order={
            1: Fault.RATE_LIMIT,
            2: Fault.SERVER_ERROR,
            3: Fault.BAD_REQUEST,
            4: Fault.TRUNCATED,
            5: Fault.MALFORMED_JSON,
        },
        retry_after_s=1.5,
    )
    with FaultServer(plan) as server:
        results = [asyncio.run(post(server.port, chat("Q"))) for _ in range(6)]
        stats = server.stats()
    assert [status for status, _, _ in results] == [429, 500, 400, 200, 200, 200]
    assert results[0][1]["retry-after"] == "1.5"
    truncated = results[3]
    assert len(truncated[2]) < int(truncated[1]["content-length"])
    with pytest.raises(json.JSONDecodeError):
        json.loads(results[4][2])
    assert json.loads(results[5][2])["choices"][0]["finish_reason"] == "stop"
    assert stats.completions == 6 and stats.faults["ok"] == 1


def test_markers_script_faults_per_prompt() -> None:
    with FaultServer() as server:
        sequence = [asyncio.run(post(server.port, chat("A [[faults:server_error,rate_limit]]")))[0] for _ in range(3)]
        always = [asyncio.run(post(server.port, chat("B [[fault:server_error]]")))[0] for _ in range(3)]
        other = asyncio.run(post(server.port, chat("C [[faults:server_error]]")))[0]
    assert sequence == [500, 429, 200]
    assert always == [500, 500, 500]
    assert other == 500  # per-prompt counters: C's first request gets C's first fault


@pytest.mark.parametrize(
    ("fault", "check"),
    [
        (Fault.WRONG_SCHEMA, lambda text, finish: "understanding" not in json.loads(text)),
        (Fault.REFUSAL_JUNK, lambda text, finish: text.startswith("I'm sorry")),
        (Fault.EMPTY, lambda text, finish: text == ""),
        (Fault.WRONG_VERDICT, lambda text, finish: json.loads(text)["verdict"] == "harmful"),
        (Fault.CUT_OFF, lambda text, finish: finish == "length" and not text.endswith("}")),
    ],
)
def test_content_faults(fault: Fault, check) -> None:
    with FaultServer(FaultPlan(by_order={1: fault})) as server:
        _, _, content = asyncio.run(post(server.port, chat("Dataset label: benign", trace_schema())))
    choice = json.loads(content)["choices"][0]
    assert check(choice["message"]["content"], choice["finish_reason"])


def test_hang_outlasts_the_client_and_shutdown_cancels_it() -> None:
    with FaultServer(FaultPlan(by_order={1: Fault.HANG}, hang_s=60)) as server:
        with pytest.raises(TimeoutError):
            asyncio.run(asyncio.wait_for(post(server.port, chat("Q")), timeout=0.3))
        assert server.stats().in_flight == 1
        started = time.perf_counter()
    assert time.perf_counter() - started < 30  # far below the 60 s hang: shutdown cancelled it


def test_serves_256_concurrent_requests_at_500ms_latency() -> None:
    async def burst(port: int) -> list[int]:
        return [status for status, _, _ in await asyncio.gather(*(post(port, chat(f"Q{i}")) for i in range(256)))]

    with FaultServer(FaultPlan(latency_s=0.5)) as server:
        statuses = asyncio.run(burst(server.port))
        stats = server.stats()
    assert statuses == [200] * 256
    assert stats.max_in_flight == 256  # all 256 waited out the latency together, not in turns


def test_process_mode_serves_models_and_stats() -> None:
    with FaultServerProcess(FaultPlan(by_order={1: Fault.SERVER_ERROR})) as server:
        with urllib.request.urlopen(f"{server.base_url}/models", timeout=5) as response:
            models = json.loads(response.read())
        assert models["data"][0]["id"] == "fault-teacher"
        assert asyncio.run(post(server.port, chat("Q")))[0] == 500
        stats = server.stats()
    assert stats.completions == 1 and stats.faults == {"server_error": 1}
    assert stats.requests == 3  # models, the completion, and this stats call


def test_plan_round_trips_through_json() -> None:
    plan = FaultPlan(latency_s=0.2, by_order={3: Fault.HANG}, reasoning_content="r", record_requests=True)
    assert FaultPlan.from_json(plan.to_json()) == plan


def test_a_partial_plan_keeps_the_other_defaults() -> None:
    assert FaultPlan.from_json('{"latency_s": 0.5}') == FaultPlan(latency_s=0.5)
