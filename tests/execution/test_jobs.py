"""execution.jobs: rows back in record order, and the one-request job's rows (answers, errors, partial passes)."""

import asyncio
from pathlib import Path

import pytest

from alttrain.errors import CacheMissError
from alttrain.execution.jobs import RequestJob, align
from alttrain.llm.cache import ResponseCache
from alttrain.llm.client import TeacherClient
from alttrain.llm.types import SamplingParams
from alttrain.testing import FaultPlan, FaultServer, teacher_config


def test_align_puts_finished_rows_back_in_record_order_with_none_for_the_unfinished() -> None:
    records = [{"id": "a"}, {"id": "b"}, {"id": "a"}, {"id": "c"}]
    done = [{"row": 1}, {"row": 3}]
    assert align(records, done, ["a", "c"]) == [None, {"row": 1}, {"row": 3}, None]  # the first "a" is left out
    assert align(records, [{"n": i} for i in range(4)], []) == [{"n": i} for i in range(4)]


def test_a_request_job_answers_errs_and_leaves_misses_to_a_partial_pass(tmp_path: Path) -> None:
    records = [{"messages": [{"role": "user", "content": text}]}
               for text in ("[[reply:hi]] a", "[[fault:bad_request]] b")]  # fmt: skip
    sampling = SamplingParams(temperature=0.0, max_tokens=8)
    seen: list[object] = []

    async def run(offline: bool, partial: bool) -> list:
        async with TeacherClient(teacher, cache, offline=offline) as client:
            return await RequestJob(teacher, sampling).run(records, client, partial=partial,
                                                           on_row=lambda row, stats: seen.append(row["text"]))

    with FaultServer(FaultPlan(replies={"hi": "hello"})) as server, ResponseCache(tmp_path / "c.sqlite") as cache:
        teacher = teacher_config(server.base_url, max_retries=0)
        online = asyncio.run(run(offline=False, partial=False))
        assert [row["text"] for row in online] == ["hello", ""] and sorted(seen) == ["", "hello"]  # each row once
        assert online[1]["error"].startswith("PermanentTeacherError: HTTP 400")
        partial = asyncio.run(run(offline=True, partial=True))
        assert partial == [online[0], None]  # the failed request was never cached
        with pytest.raises(CacheMissError):
            asyncio.run(run(offline=True, partial=False))
