"""The local executor against the fault server: one client here, rows in record order, the report, offline runs."""

from pathlib import Path

import pytest

from alttrain.errors import CacheMissError
from alttrain.execution.jobs import RequestJob
from alttrain.execution.local import LocalExecutor, LocalSettings
from alttrain.llm.cache import ResponseCache
from alttrain.llm.types import SamplingParams, TeacherResponse
from alttrain.testing import FaultPlan, FaultServer, teacher_config

SAMPLING = SamplingParams(temperature=0.0, max_tokens=16)
PLAN = FaultPlan(replies={f"r{i}": f"answer {i}" for i in range(6)})
TEXTS = [f"[[reply:r{i}]] question {i}" for i in range(6)] + ["[[fault:bad_request]] refused"]


def records(*texts: str) -> list[dict]:
    return [{"messages": [{"role": "user", "content": text}]} for text in texts]


def test_rows_come_back_in_record_order_with_the_report_and_each_row_counted(tmp_path: Path) -> None:
    seen: list[str] = []
    with FaultServer(PLAN) as server, ResponseCache(tmp_path / "cache.sqlite") as cache:
        job = RequestJob(teacher_config(server.base_url, max_retries=0), SAMPLING)
        execution = LocalExecutor(LocalSettings(), tmp_path).run(
            records(*TEXTS), job, cache, on_row=lambda row, stats: seen.append(row["text"]))
        sent = server.stats().completions
    assert [row["text"] for row in execution.rows if row is not None] == [f"answer {i}" for i in range(6)] + [""]
    assert execution.rows[-1] is not None and execution.rows[-1]["error"].startswith("PermanentTeacherError")
    assert sorted(seen) == sorted(row["text"] for row in execution.rows if row is not None)  # each row once
    assert execution.report is not None and execution.report.executor == "local"
    assert execution.report.rows == 7 and execution.report.requests_sent == execution.requests_sent == sent == 7
    assert (execution.pending_rows, execution.batches) == (0, None)


def test_offline_it_answers_from_the_cache_alone_and_reports_nothing_sent(tmp_path: Path) -> None:
    with FaultServer(PLAN) as server, ResponseCache(tmp_path / "cache.sqlite") as cache:
        job = RequestJob(teacher_config(server.base_url, max_retries=0), SAMPLING)
        online = LocalExecutor(LocalSettings(), tmp_path).run(records(*TEXTS[:6]), job, cache)
        sent = server.stats().completions
        offline = LocalExecutor(LocalSettings(), tmp_path, offline=True).run(records(*TEXTS[:6]), job, cache)
        with pytest.raises(CacheMissError, match="no cached response"):
            LocalExecutor(LocalSettings(), tmp_path, offline=True).run(records(*TEXTS), job, cache)
        assert server.stats().completions == sent  # offline: nothing sent
    assert offline.rows == online.rows and offline.report is None and offline.stats.cache_hits == 6


def test_an_offline_miss_says_when_the_cache_holds_answers_of_another_key_version(tmp_path: Path) -> None:
    with ResponseCache(tmp_path / "cache.sqlite") as cache:
        cache.put("v0-old", "openai:fault-teacher", "{}", TeacherResponse("old"))
        job = RequestJob(teacher_config("http://127.0.0.1:9/v1"), SAMPLING)
        with pytest.raises(CacheMissError, match="the cache holds 1 answers written by an older alttrain"):
            LocalExecutor(LocalSettings(), tmp_path, offline=True).run(records("anything"), job, cache)
