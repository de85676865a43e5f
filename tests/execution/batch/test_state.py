"""A damaged ``RUN/batches.json`` stops the batch executor with one clear error that says how to go on."""

import re
import shlex
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from alttrain.errors import BatchStateError
from alttrain.execution.base import Execution
from alttrain.execution.batch.config import BatchSettings
from alttrain.execution.batch.executor import BatchExecutor
from alttrain.llm.cache import ResponseCache
from alttrain.records import conform, record_id
from alttrain.structure import StructureSpec
from alttrain.synthesis.config import SynthesisConfig
from alttrain.synthesis.job import SynthesisJob
from alttrain.testing import FaultServer, teacher_config

PROMPTS = conform(pl.DataFrame([{"id": record_id("test", p), "prompt": p, "label": "benign", "category": "test",
                                 "source": "test", "license": "none"} for p in ("one", "two")]), "prompts")


def batch_run(base_url: str, run_dir: Path) -> Execution:
    config = SynthesisConfig.model_validate({"teacher": teacher_config(base_url).model_dump()})
    with ResponseCache(run_dir / "cache.sqlite") as cache:
        executor = BatchExecutor(BatchSettings(poll_interval_s=0.02), run_dir)
        return executor.run(PROMPTS.to_dicts(), SynthesisJob(config, StructureSpec()), cache)


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (lambda text: text[: len(text) // 2].encode(), r"not JSON: .* at line \d+ column \d+"),
        (lambda text: b"[]", "JSON list, not an object"),
        (lambda text: b'{"batches": [{"round": 1}]}', r"not a batches file \(TypeError: "),
        (lambda text: b'{"batches": 3}', r"not a batches file \(TypeError: "),
        (lambda text: b"\xff\xfe{}", "not UTF-8 text"),
    ],
)
def test_a_damaged_state_file_is_one_error_naming_it_and_the_way_on(
    tmp_path: Path, damage: Callable[[str], bytes], problem: str
) -> None:
    run_dir = tmp_path / "run"
    path = run_dir / "batches.json"
    with FaultServer() as server:
        first = batch_run(server.base_url, run_dir)
        path.write_bytes(damage(path.read_text()))
        with pytest.raises(BatchStateError) as raised:
            batch_run(server.base_url, run_dir)
        message = str(raised.value)
        assert message.startswith(f"{path}: cannot be read: ")
        assert re.search(problem, message), message
        aside = f"mv {path} {path}.damaged"
        assert aside in message and "creates none of them again" in message
        created = server.stats().batches_created
        assert shlex.split(aside)[1:] == [str(path), f"{path}.damaged"]
        path.rename(f"{path}.damaged")  # what the message says to do
        again = batch_run(server.base_url, run_dir)
        assert server.stats().batches_created == created
    assert again.rows == first.rows
