"""execution.registry: every executor by its kind, and the contract they share (same rows, same report shape)."""

from pathlib import Path

import pytest

from alttrain.errors import ConfigError
from alttrain.execution.base import Execution
from alttrain.execution.batch.config import BatchSettings
from alttrain.execution.batch.executor import BatchExecutor
from alttrain.execution.jobs import RequestJob
from alttrain.execution.local import LocalSettings
from alttrain.execution.registry import EXECUTORS, executor_class, make_executor
from alttrain.llm.cache import ResponseCache
from alttrain.llm.config import TeacherConfig
from alttrain.llm.types import SamplingParams
from alttrain.testing import FaultPlan, FaultServer, teacher_config

SAMPLING = SamplingParams(temperature=0.0, max_tokens=16)
PLAN = FaultPlan(replies={"hi": "hello!", "bye": "goodbye!"})
TEXTS = ["[[reply:hi]] one", "[[reply:bye]] two", "[[reply:hi]] three", "[[faults:server_error]] four"]


def test_each_executor_is_listed_under_the_kind_its_settings_name() -> None:
    for kind, executor in EXECUTORS.items():
        assert executor.kind == kind and executor.settings_class().kind == kind  # type: ignore[attr-defined]
        assert executor_class(executor.settings_class()) is executor
    assert [kind for kind, executor in EXECUTORS.items() if not executor.interactive] == ["batch"]
    assert [kind for kind, executor in EXECUTORS.items() if executor.distributed] == ["ray"]


def test_only_the_batch_executor_refuses_a_teacher_without_a_batch_api() -> None:
    template = TeacherConfig(backend="template")
    assert {kind: executor.teacher_problem(template) for kind, executor in EXECUTORS.items()} == {
        "local": None, "ray": None, "batch": "needs a teacher backend with a Batch API, not 'template'"}
    assert BatchExecutor.teacher_problem(teacher_config("http://127.0.0.1:9/v1")) is None


def run(settings: object, base_url: str, run_dir: Path) -> Execution:
    job = RequestJob(teacher_config(base_url, max_retries=2), SAMPLING)
    records = [{"messages": [{"role": "user", "content": text}]} for text in TEXTS]
    with ResponseCache(run_dir / "cache.sqlite") as cache:
        return make_executor(settings, run_dir).run(records, job, cache)  # type: ignore[arg-type]


def test_local_and_batch_executors_make_the_same_rows_and_the_same_report_shape(tmp_path: Path) -> None:
    with FaultServer(PLAN) as server:
        local = run(LocalSettings(), server.base_url, tmp_path / "local")
    with FaultServer(PLAN) as server:
        batch = run(BatchSettings(poll_interval_s=0.02), server.base_url, tmp_path / "batch")
        assert server.stats().completions == 0 and server.stats().batches_created == 2  # the 500 went again
    texts = [[row["text"] for row in execution.rows if row is not None] for execution in (local, batch)]
    assert texts[0] == texts[1] and texts[0][:3] == ["hello!", "goodbye!", "hello!"] and texts[0][3]
    assert all(row is not None and row["error"] is None for row in batch.rows)
    assert local.report is not None and batch.report is not None
    local_json, batch_json = local.report.as_json("stage"), batch.report.as_json("stage")
    assert local_json.keys() == batch_json.keys()
    assert (local_json["executor"], batch_json["executor"]) == ("local", "batch")
    assert local_json["rows"] == batch_json["rows"] == len(TEXTS)
    assert batch.batches is not None and batch.batches.requests == batch.requests_sent == 5
    assert (tmp_path / "batch" / "batches.json").exists() and not (tmp_path / "local" / "batches.json").exists()


def test_the_batch_executor_stops_before_sending_for_a_teacher_without_a_batch_api(tmp_path: Path) -> None:
    job = RequestJob(TeacherConfig(backend="template"), SAMPLING)
    with ResponseCache(tmp_path / "cache.sqlite") as cache, pytest.raises(ConfigError, match="executor batch: needs"):
        BatchExecutor(BatchSettings(), tmp_path).run([{"messages": []}], job, cache)
    assert not (tmp_path / "batches.json").exists()
