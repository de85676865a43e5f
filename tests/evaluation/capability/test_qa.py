"""NQ-open from a local copy in the real layout (``NQ-open.dev.jsonl``: ``question``, ``answer`` list)."""

import json
from pathlib import Path

import polars as pl
import pytest
from pydantic import TypeAdapter

from alttrain.errors import BenchmarkError
from alttrain.evaluation import hub_benchmarks
from alttrain.evaluation.capability.qa import NqOpenBenchmark
from alttrain.evaluation.config import BenchmarkConfig
from alttrain.evaluation.scorers.apply import apply_scorers

ROWS = [
    {"question": "when was the last time anyone was on the moon", "answer": ["14 December 1972 UTC", "December 1972"]},
    {"question": "how many seasons of the bastard executioner are there", "answer": ["one", "one season"]},
    {"question": "when did the eagles win last super bowl", "answer": ["2017"]},
]


def write_copy(folder: Path, rows: list[dict]) -> Path:
    folder.mkdir()
    (folder / "NQ-open.dev.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    return folder


def test_a_local_copy_loads_every_question_with_every_reference(tmp_path: Path) -> None:
    benchmark = TypeAdapter(BenchmarkConfig).validate_python(
        {"kind": "nq_open", "dataset": str(write_copy(tmp_path / "nq_open", ROWS)), "n": None}
    )
    items = benchmark.load()
    assert isinstance(benchmark, NqOpenBenchmark) and benchmark.read_commit() is None
    assert items.height == 3 and items["id"].n_unique() == 3
    assert items["references"].to_list()[0] == ["14 December 1972 UTC", "December 1972"]
    assert items["reference_answer"].to_list() == ["14 December 1972 UTC", "one", "2017"]
    assert set(items["scorer"]) == {"squad"} and set(items["label"]) == {"benign"} and set(items["category"]) == {"qa"}
    assert items["prompt"][2].startswith("when did the eagles win last super bowl?\n\nAnswer with the short answer")
    assert items["id"].to_list() == NqOpenBenchmark(dataset=str(tmp_path / "nq_open")).load()["id"].to_list()


def test_items_are_graded_by_squad_through_apply_scorers(tmp_path: Path) -> None:
    items = NqOpenBenchmark(dataset=str(write_copy(tmp_path / "nq_open", ROWS))).load()
    rows = items.with_columns(
        pl.Series("answer", ["The answer is \\boxed{December 1972}.", "one season of it", ""]),
        pl.lit(None, pl.Boolean).alias("answer_correct"), pl.lit("none").alias("answer_check"),
    )
    scored = apply_scorers(rows)
    assert scored["answer_correct"].to_list() == [True, False, False]
    assert scored["score"].to_list() == pytest.approx([1.0, 2 / 3, 0.0])
    assert scored["extracted_answer"].to_list() == ["December 1972", "one season of it", None]


def test_a_question_without_answers_is_an_error(tmp_path: Path) -> None:
    folder = write_copy(tmp_path / "nq_open", [*ROWS, {"question": "who wrote it", "answer": []}])
    with pytest.raises(BenchmarkError, match="row 3 has no question or no answer"):
        NqOpenBenchmark(dataset=str(folder)).load()


def test_the_hub_reads_the_nq_open_config_validation_split(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def rows(benchmark: str, path: str, name: str | None, split: str, **kwargs: object) -> list[dict]:
        calls.append((path, name, split, kwargs))
        return ROWS

    monkeypatch.setattr(hub_benchmarks, "load_hub_rows", rows)
    commit = "0123456789abcdef0123456789abcdef01234567"
    benchmark = NqOpenBenchmark(revision=commit)
    assert benchmark.load().height == 3 and benchmark.read_commit() == commit
    assert calls == [("google-research-datasets/nq_open", "nq_open", "validation", {"revision": commit})]


def test_a_hub_snapshot_config_folder_loads_and_records_its_commit(tmp_path: Path) -> None:
    commit = "0123456789abcdef0123456789abcdef01234567"
    folder = tmp_path / "datasets--google-research-datasets--nq_open" / "snapshots" / commit / "nq_open"
    folder.mkdir(parents=True)
    pl.DataFrame(ROWS).write_parquet(folder / "validation-00000-of-00001.parquet")
    benchmark = NqOpenBenchmark(dataset=str(folder))
    assert benchmark.load()["references"].to_list()[1] == ["one", "one season"]
    assert benchmark.read_commit() == commit
