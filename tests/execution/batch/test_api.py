"""The Batch API client against the fault server: finding uploads and batches through pages, ids, downloads."""

import asyncio
import json
from pathlib import Path

import openai
import pytest

from alttrain.errors import BatchError
from alttrain.execution.batch.api import BatchAPI, batch_metadata, checked_id, upload_name
from alttrain.testing import FaultPlan, FaultServer, teacher_config

SHA = "ab" * 32


def request_line(custom_id: str, prompt: str) -> str:
    body = {"model": "fault-teacher", "messages": [{"role": "user", "content": prompt}]}
    return json.dumps({"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions", "body": body},
                      ensure_ascii=False)


def decoys(server: FaultServer, count: int) -> None:
    """Uploads and batches of other requests, made after ours (so ours are on a later page)."""
    client = openai.OpenAI(api_key="sk-test", base_url=server.base_url, max_retries=0)
    for number in range(count):
        upload = client.files.create(file=(f"other-{number}.jsonl", request_line("x", "other").encode() + b"\n",
                                           "application/jsonl"), purpose="batch")
        client.batches.create(input_file_id=upload.id, endpoint="/v1/chat/completions", completion_window="24h")


def test_an_upload_and_its_batch_are_found_on_a_later_page(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text(request_line("k", "question") + "\n")

    async def scenario(server: FaultServer) -> tuple[str | None, str | None, str | None]:
        api = BatchAPI(teacher_config(server.base_url))
        try:
            file_id = await api.upload(path, upload_name(SHA))
            created = await api.create(file_id, "24h", batch_metadata(1, SHA))
            await asyncio.to_thread(decoys, server, 3)
            found_upload = await api.find_upload(upload_name(SHA))
            by_file = await api.find_batch(file_id, "0" * 64, known=())
            by_metadata = await api.find_batch("file-elsewhere", SHA, known=())
            assert await api.find_batch(file_id, SHA, known={created.id}) is None  # a recorded one is not "found"
            return found_upload, by_file and by_file.id, by_metadata and by_metadata.id
        finally:
            await api.aclose()

    with FaultServer(FaultPlan(page_limit=1)) as server:
        assert asyncio.run(scenario(server)) == ("file-1", "batch_1", "batch_1")
        assert server.request_log().count("GET /v1/batches?limit=100") == 3  # the first page of each look
        assert "GET /v1/batches?limit=100&after=batch_4" in server.request_log()


@pytest.mark.parametrize("value", ["/abs/path", "../up", "a/b", "file..x", "", "id with space", "x" * 201, "é"])
def test_an_id_that_is_not_a_plain_id_is_refused(value: str) -> None:
    with pytest.raises(BatchError, match="which is not an id"):
        checked_id(value, "file", "http://127.0.0.1:1/v1")


@pytest.mark.parametrize("value", ["file-abc123", "batch_68f1.a-B", "x"])
def test_plain_ids_pass(value: str) -> None:
    assert checked_id(value, "file", "http://127.0.0.1:1/v1") == value


def test_a_download_keeps_a_line_holding_unicode_line_breaks_whole(tmp_path: Path) -> None:
    prompt = "one\u2028two\u2029three\x85four\x1cfive"
    content = (request_line("k1", prompt) + "\n" + request_line("k2", "plain") + "\n").encode()

    async def scenario(server: FaultServer) -> None:
        api = BatchAPI(teacher_config(server.base_url))
        try:
            stored = await asyncio.to_thread(
                openai.OpenAI(api_key="sk-test", base_url=server.base_url).files.create,
                file=("in.jsonl", content, "application/jsonl"), purpose="batch")
            await api.download(stored.id, tmp_path / "copy.jsonl")
        finally:
            await api.aclose()

    with FaultServer() as server:
        asyncio.run(scenario(server))
    assert (tmp_path / "copy.jsonl").read_bytes() == content
