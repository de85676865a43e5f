"""The fault server's Batch API, driven by the real openai SDK."""

import json
from collections.abc import Iterator

import openai
import pytest

from alttrain.structure import StructureSpec
from alttrain.synthesis.trace_json import parse_trace_json, trace_schema
from alttrain.testing import BatchFault, FaultPlan, FaultServer

TERMINAL = {"completed", "failed", "expired", "cancelled"}


def request_line(custom_id: str, prompt: str) -> str:
    """One request, written with non-ASCII characters raw (as alttrain writes them)."""
    body = {
        "model": "fault-teacher",
        "messages": [
            {"role": "system", "content": "s"},
            {"role": "user", "content": f"{prompt}\n\nDataset label: benign"},
        ],
        "response_format": {"type": "json_schema", "json_schema": {"name": "t", "schema": trace_schema()}},
    }
    return json.dumps({"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions", "body": body},
                      ensure_ascii=False)


def submit(client: openai.OpenAI, prompts: list[str]) -> str:
    """Upload one line per prompt (custom ids k0, k1, ...) and create a batch; return its id."""
    content = "".join(request_line(f"k{i}", prompt) + "\n" for i, prompt in enumerate(prompts)).encode()
    uploaded = client.files.create(file=("in.jsonl", content, "application/jsonl"), purpose="batch")
    batch = client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h")
    assert batch.status == "validating"
    return batch.id


def poll(client: openai.OpenAI, batch_id: str) -> Iterator[openai.types.Batch]:
    """Every retrieve until the batch ends (at most 50)."""
    for _ in range(50):
        batch = client.batches.retrieve(batch_id)
        yield batch
        if batch.status in TERMINAL:
            return


def lines(client: openai.OpenAI, file_id: str | None) -> list[str]:
    """A file's lines: JSON Lines ends lines at line feeds only."""
    return client.files.content(file_id).content.decode().split("\n")[:-1] if file_id else []


@pytest.fixture
def server() -> Iterator[FaultServer]:
    faults = dict(enumerate([BatchFault.FAIL_VALIDATION, BatchFault.EXPIRE, BatchFault.ERROR_LINES,
                             BatchFault.OUT_OF_ORDER], start=2))  # batch 1 is fault-free
    with FaultServer(FaultPlan(batch_polls=2, batch_faults=faults)) as s:
        yield s


def client_for(server: FaultServer, key: str = "sk-test") -> openai.OpenAI:
    return openai.OpenAI(api_key=key, base_url=server.base_url, max_retries=0)


def test_a_batch_moves_through_its_phases_and_answers_every_line(server: FaultServer) -> None:
    client = client_for(server)
    batch_id = submit(client, ["Q one", "Q two [[faults:server_error]]", "Q three [[fault:wrong_verdict]]"])
    seen = list(poll(client, batch_id))
    assert [b.status for b in seen] == ["validating"] * 2 + ["in_progress"] * 2 + ["finalizing"] * 2 + ["completed"]
    done = seen[-1]
    assert done.request_counts is not None and (done.request_counts.completed, done.request_counts.failed) == (2, 1)
    assert done.usage is not None and done.usage.output_tokens > 0
    output = [json.loads(line) for line in lines(client, done.output_file_id)]
    assert [line["custom_id"] for line in output] == ["k0", "k2"]
    verdicts = [parse_trace_json(line["response"]["body"]["choices"][0]["message"]["content"]).verdict
                for line in output]
    assert verdicts == ["benign", "harmful"]  # a marker works per line, as on the chat endpoint
    first = parse_trace_json(output[0]["response"]["body"]["choices"][0]["message"]["content"])
    assert StructureSpec().validate(StructureSpec().render(first), "benign") == []
    (error,) = [json.loads(line) for line in lines(client, done.error_file_id)]
    assert error["custom_id"] == "k1" and error["response"]["status_code"] == 500
    stats = server.stats()
    assert (stats.files_created, stats.batches_created, stats.batch_lines, stats.completions) == (1, 1, 3, 0)


def test_http_faults_become_error_lines_and_broken_answers(server: FaultServer) -> None:
    client = client_for(server)
    kinds = ["rate_limit", "server_error", "bad_request", "hang", "truncated", "malformed_json", "no_choices"]
    batch_id = submit(client, [f"Q [[fault:{kind}]]" for kind in kinds])
    done = list(poll(client, batch_id))[-1]
    errors = {json.loads(line)["custom_id"]: json.loads(line) for line in lines(client, done.error_file_id)}
    assert {k: e["response"]["status_code"] for k, e in errors.items() if e["response"]} == {
        "k0": 429, "k1": 500, "k2": 400}
    assert "sent with Bearer sk-test" in errors["k2"]["response"]["body"]["error"]["message"]  # echoes the key
    assert errors["k3"]["error"]["code"] == "timeout" and errors["k3"]["response"] is None
    truncated, malformed, no_choices = lines(client, done.output_file_id)
    with pytest.raises(json.JSONDecodeError):
        json.loads(truncated)
    assert isinstance(json.loads(malformed)["response"]["body"], str)
    assert json.loads(no_choices)["response"]["body"]["choices"] == []


def test_scripted_batch_faults(server: FaultServer) -> None:
    client = client_for(server)
    prompts = [f"Q{i}" for i in range(6)]
    for _ in range(5):  # batch 1 is fault-free; 2-5 carry the plan's faults
        batch_id = submit(client, prompts)
        final = list(poll(client, batch_id))[-1]
        output = [json.loads(line)["custom_id"] for line in lines(client, final.output_file_id)]
        errors = [json.loads(line)["custom_id"] for line in lines(client, final.error_file_id)]
        if batch_id == "batch_2":
            assert final.status == "failed" and final.errors and final.errors.data
            assert final.errors.data[0].code == "invalid_request" and not output and not errors
        elif batch_id == "batch_3":
            assert final.status == "expired" and output == ["k0", "k1", "k2"] and not errors
        elif batch_id == "batch_4":
            assert final.status == "completed" and output == ["k0", "k2", "k4"] and errors == ["k1", "k3", "k5"]
        elif batch_id == "batch_5":
            assert final.status == "completed" and output == [f"k{i}" for i in range(5, -1, -1)]
        else:
            assert final.status == "completed" and output == [f"k{i}" for i in range(6)]


def test_unreadable_input_fails_validation_and_cancel_ends_a_batch(server: FaultServer) -> None:
    client = client_for(server)
    uploaded = client.files.create(file=("in.jsonl", b"not json\n", "application/jsonl"), purpose="batch")
    batch = client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h")
    final = list(poll(client, batch.id))[-1]
    assert final.status == "failed" and final.errors and final.errors.data[0].line == 1
    cancelled = submit(client, ["Q"])  # the second batch: the plan fails it, unless it is cancelled first
    assert client.batches.cancel(cancelled).status == "cancelling"
    assert client.batches.retrieve(cancelled).status == "cancelled"


def test_lists_find_uploads_and_batches(server: FaultServer) -> None:
    client = client_for(server)
    batch_id = submit(client, ["Q"])
    list(poll(client, batch_id))
    assert [f.filename for f in client.files.list(purpose="batch").data] == ["in.jsonl"]
    assert len(client.files.list().data) == 2  # the upload and the batch's output file
    assert [b.id for b in client.batches.list().data] == [batch_id]
    assert "POST /v1/files" in server.request_log() and f"GET /v1/batches/{batch_id}" in server.request_log()


def test_a_wrong_key_is_refused_on_batch_routes() -> None:
    with FaultServer(FaultPlan(api_key="sk-right-0123456789")) as server:
        with pytest.raises(openai.AuthenticationError):
            client_for(server, "sk-wrong-0123456789").files.list()
        assert client_for(server, "sk-right-0123456789").files.list().data == []


def test_plan_with_batch_settings_round_trips_through_json() -> None:
    plan = FaultPlan(batch_faults={2: BatchFault.EXPIRE}, batch_polls=3, batch_delays={"create": 0.5})
    assert FaultPlan.from_json(plan.to_json()) == plan


def test_lines_end_at_line_feeds_only_and_answers_come_back_as_raw_utf8() -> None:
    breaks = "\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
    plan = FaultPlan(replies={"r": f"reply{breaks}end"}, batch_polls=1)
    with FaultServer(plan) as server:
        client = client_for(server)
        batch_id = submit(client, [f"Q{breaks}one [[reply:r]]", "Q two"])
        done = list(poll(client, batch_id))[-1]
        assert done.status == "completed" and done.request_counts and done.request_counts.completed == 2
        raw = client.files.content(done.output_file_id).content
    assert "\x85\u2028\u2029end".encode() in raw  # raw, not escaped: a client must not split at them
    first, second = (json.loads(line) for line in raw.decode().split("\n")[:-1])
    assert first["response"]["body"]["choices"][0]["message"]["content"] == f"reply{breaks}end"
    assert second["custom_id"] == "k1"


def test_lists_come_in_pages_of_at_most_the_plan_s_limit() -> None:
    with FaultServer(FaultPlan(page_limit=2)) as server:
        client = client_for(server)
        for number in range(5):
            client.files.create(file=(f"f{number}.jsonl", b"{}\n", "application/jsonl"), purpose="batch")
        first = client.files.list(purpose="batch", limit=100)
        assert [f.filename for f in first.data] == ["f4.jsonl", "f3.jsonl"] and first.has_more
        assert [f.filename for f in client.files.list(purpose="batch")] == [f"f{n}.jsonl" for n in range(4, -1, -1)]
