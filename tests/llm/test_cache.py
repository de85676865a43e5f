import json
import sqlite3
import subprocess
import sys
from contextlib import closing
from dataclasses import replace
from pathlib import Path

from alttrain.llm.backends.base import SamplingParams, TeacherRequest, TeacherResponse
from alttrain.llm.cache import CACHE_KEY_VERSION, ResponseCache, keyed_request
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


def test_every_put_survives_sigkill(tmp_path: Path) -> None:
    """A process killed with SIGKILL right after its puts keeps every one of them."""
    path = tmp_path / "c.sqlite"
    script = f"""
import os, signal
from alttrain.llm.backends.base import SamplingParams, TeacherRequest, TeacherResponse
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
