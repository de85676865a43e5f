import json
import multiprocessing
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from dataclasses import replace
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest

from alttrain.errors import AlttrainError, CacheDamagedError
from alttrain.llm.backends.template.loader import TEXTS_DIR
from alttrain.llm.cache import CACHE_KEY_VERSION, ResponseCache, keyed_request
from alttrain.llm.types import SamplingParams, TeacherRequest, TeacherResponse
from alttrain.synthesis.trace_json import trace_schema

REQUEST = TeacherRequest(
    messages=[{"role": "system", "content": "s"}, {"role": "user", "content": "What is 2 + 3?"}],
    sampling=SamplingParams(),
    record={"id": "a", "label": "benign"},
    json_schema=trace_schema(),
)
RESPONSE = TeacherResponse(
    text='{"x": 1}', reasoning_content="hmm", prompt_tokens=12, completion_tokens=5, finish_reason="stop"
)


def query_one(path: Path, sql: str) -> tuple:
    """One row from a separate connection, closed at once (an open reader would keep the WAL alive)."""
    with closing(sqlite3.connect(path)) as db:
        return db.execute(sql).fetchone()


def test_key_is_versioned_stable_and_covers_what_decides_the_answer() -> None:
    key, request_json = keyed_request("openai:m", REQUEST)
    assert key.startswith(f"v{CACHE_KEY_VERSION}-") and len(key) == len(f"v{CACHE_KEY_VERSION}-") + 64
    assert keyed_request("openai:m", REQUEST)[0] == key
    assert json.loads(request_json)["teacher"] == "openai:m"
    variants = [
        keyed_request("openai:other", REQUEST),
        keyed_request("openai:m", replace(REQUEST, messages=[{"role": "user", "content": "What is 2 + 4?"}])),
        keyed_request("openai:m", replace(REQUEST, sampling=SamplingParams(seed=1))),
        keyed_request("openai:m", replace(REQUEST, sampling=SamplingParams(temperature=0.1))),
        keyed_request("openai:m", replace(REQUEST, json_schema=None)),
        keyed_request("openai:m", replace(REQUEST, json_schema=trace_schema({"answer": 10}))),
    ]
    assert len({key, *(k for k, _ in variants)}) == 1 + len(variants)
    # the record is not part of the key: the messages already carry the prompt
    assert keyed_request("openai:m", replace(REQUEST, record={"id": "b"}))[0] == key


def test_round_trip_and_persistence(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "cache.sqlite"
    key, request_json = keyed_request("openai:m", REQUEST)
    with ResponseCache(path) as cache:
        assert cache.get(key) is None
        cache.put(key, "openai:m", request_json, RESPONSE)
        assert cache.get(key) == RESPONSE
        cache.put(key, "openai:m", request_json, RESPONSE)  # a rewrite replaces, never duplicates
        assert len(cache) == 1
    with ResponseCache(path) as cache:
        assert cache.get(key) == RESPONSE
    row = query_one(path, "SELECT teacher, request FROM responses")
    assert row == ("openai:m", request_json)


def test_damage_found_after_opening_names_the_file_and_the_way_on(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    with ResponseCache(path) as cache:
        for number in range(200):
            key, request_json = keyed_request("openai:m", replace(REQUEST, record={"id": str(number)}))
            cache.put(f"{key}-{number}", "openai:m", request_json, RESPONSE)
        assert len(cache) == 200
    data = bytearray(path.read_bytes())
    page = 4096
    data[2 * page : len(data) - page] = b"\xff" * (len(data) - 3 * page)  # the table's pages, not the header
    path.write_bytes(bytes(data))
    damaged = r"c\.sqlite: the response cache is damaged .*Move it aside"
    with ResponseCache(path) as cache, pytest.raises(CacheDamagedError, match=damaged) as caught:
        len(cache)
    assert str(path) in str(caught.value) and isinstance(caught.value, AlttrainError)


def test_wal_mode_with_one_checkpoint_at_close(tmp_path: Path) -> None:
    path, wal = tmp_path / "c.sqlite", tmp_path / "c.sqlite-wal"
    with ResponseCache(path) as cache:
        assert query_one(path, "PRAGMA journal_mode")[0] == "wal"
        for i in range(300):  # more pages than SQLite's automatic checkpoint would let through
            request = replace(REQUEST, messages=[{"role": "user", "content": f"q{i} " + "x" * 4000}])
            key, request_json = keyed_request("t", request)
            cache.put(key, "t", request_json, RESPONSE)
        assert wal.stat().st_size > 300 * 4096  # nothing was folded in while open
    assert not wal.exists() or wal.stat().st_size == 0
    assert query_one(path, "SELECT COUNT(*) FROM responses")[0] == 300


def _open_at_once(path: Path, start: Barrier, errors: Queue) -> None:
    start.wait()
    try:
        ResponseCache(path).close()
    except sqlite3.OperationalError as error:
        errors.put(str(error))


def test_processes_can_open_one_fresh_file_at_the_same_moment(tmp_path: Path) -> None:
    """Actors on one node open its cache together; SQLite refuses the WAL switch to all but one at once."""
    context = multiprocessing.get_context("fork")
    errors = context.Queue()
    for trial in range(30):  # without the retry about 1 trial in 10 lost a process (6 processes)
        start = context.Barrier(6)
        path = tmp_path / f"{trial}.sqlite"
        processes = [context.Process(target=_open_at_once, args=(path, start, errors)) for _ in range(6)]
        for process in processes:
            process.start()
        for process in processes:
            process.join(timeout=60)
        assert [process.exitcode for process in processes] == [0] * 6
        assert query_one(path, "PRAGMA journal_mode")[0] == "wal"
    assert errors.empty(), errors.get()


def test_every_put_survives_sigkill(tmp_path: Path) -> None:
    """A process killed with SIGKILL right after its puts keeps every one of them."""
    path = tmp_path / "c.sqlite"
    script = f"""
import os, signal
from alttrain.llm.types import SamplingParams, TeacherRequest, TeacherResponse
from alttrain.llm.cache import ResponseCache, keyed_request
cache = ResponseCache(__import__("pathlib").Path({str(path)!r}))
for i in range(50):
    request = TeacherRequest([{{"role": "user", "content": f"q{{i}}"}}], SamplingParams())
    key, request_json = keyed_request("t", request)
    cache.put(key, "t", request_json, TeacherResponse(text=f"a{{i}}"))
os.kill(os.getpid(), signal.SIGKILL)
"""
    result = subprocess.run([sys.executable, "-c", script], timeout=60)
    assert result.returncode == -9
    with ResponseCache(path) as cache:
        assert len(cache) == 50
        key, _ = keyed_request("t", TeacherRequest([{"role": "user", "content": "q49"}], SamplingParams()))
        assert cache.get(key) == TeacherResponse(text="a49")


def client_key(teacher: dict, cache: ResponseCache, request: TeacherRequest = REQUEST) -> str:
    """The key an offline client computes for ``request``: nothing is started or sent."""
    from alttrain.llm.client import TeacherClient
    from alttrain.llm.config import TeacherConfig

    return TeacherClient(TeacherConfig.model_validate(teacher), cache, offline=True).cache_key(request)[0]


def test_every_setting_that_changes_an_answer_changes_the_key(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "c.sqlite")
    openai = {"backend": "openai", "model": "m", "base_url": "http://127.0.0.1:8001/v1"}
    base = client_key(openai, cache)
    assert client_key(openai, cache) == base
    assert client_key({**openai, "base_url": "http://127.0.0.1:8002/v1"}, cache) != base  # another endpoint
    assert client_key({**openai, "concurrency": 3, "timeout_s": 9}, cache) == base  # how it is reached: not the answer

    local = {"backend": "local", "model": "m"}
    local_key = client_key(local, cache)
    for change in ({"repeat_penalty": 1.3}, {"max_field_chars": 99}, {"context_size": 1024}):
        assert client_key({**local, "local": change}, cache) != local_key, change
    other_gguf = tmp_path / "other.gguf"
    other_gguf.write_bytes(b"gguf")
    assert client_key({**local, "local": {"gguf_path": str(other_gguf)}}, cache) != local_key

    vllm = {"backend": "vllm", "model": "m"}
    for change in ({"dtype": "float32"}, {"max_model_len": 2048}, {"tensor_parallel_size": 2}):
        assert client_key({**vllm, "vllm": change}, cache) != client_key(vllm, cache), change

    template = {"backend": "template", "model": "t"}
    template_key = client_key(template, cache)
    texts = tmp_path / "texts"
    shutil.copytree(TEXTS_DIR, texts, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    assert client_key({**template, "template": {"texts_dir": str(texts)}}, cache) == template_key  # same texts
    (texts / "common.yaml").write_text((texts / "common.yaml").read_text() + "\n# edited\n")
    assert client_key({**template, "template": {"texts_dir": str(texts)}}, cache) != template_key
    for field in ("category", "reference_answer", "original_answer", "id"):
        changed = replace(REQUEST, record={**REQUEST.record, field: "changed"})
        assert client_key(template, cache, changed) != template_key, field  # the template teacher reads it
        assert client_key(openai, cache, changed) == base, field  # an LLM teacher reads only the messages


def test_choices_join_the_key_only_when_set() -> None:
    request = TeacherRequest([{"role": "user", "content": "Is this harmful?"}], SamplingParams(), record={"id": "a"})
    key, request_json = keyed_request("transformers:m", request, options={"precision": "fp32"})
    # the key this request had before requests could carry choices (computed with that code): unchanged
    assert key == "v2-1d6d8ad6f20e18113ca3ddbbdb73cfb52fa2ef8b34a503961d3e8977be09eab4"
    assert "choices" not in json.loads(request_json)
    choosing = [replace(request, choices=choices) for choices in [(" harmful", " benign"), (" benign", " harmful")]]
    keyed = [keyed_request("transformers:m", one, options={"precision": "fp32"}) for one in choosing]
    assert len({key, *(k for k, _ in keyed)}) == 3  # with choices, and in another order, each its own key
    assert json.loads(keyed[0][1])["choices"] == [" harmful", " benign"]
