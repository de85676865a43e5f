"""Summarization from local copies in the real layouts (XSum ``test.jsonl``: ``document``, ``summary``, int ``id``)."""

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from alttrain.errors import BenchmarkError
from alttrain.evaluation import hub_benchmarks
from alttrain.evaluation.capability.summarization import SummarizationBenchmark

XSUM = [
    {"document": "The owners said their planned water park would create 500 jobs.\nThe council agreed.",
     "summary": "A water park in Bewdley will create 500 jobs, its owners say.", "id": 34268361},
    {"document": "A new bridge opened on Monday.\nIt took two years to build.",
     "summary": "A bridge has opened after two years of work.", "id": 38826984},
]
CNN = [{"article": "A new library opened in the town centre.\nIt holds 20,000 books.",
        "highlights": "New library opens.\nIt holds 20,000 books.", "id": "0001d1afc246a7964130f43ae940af6bc6c57f01"}]


def write_copy(folder: Path, rows: list[dict]) -> str:
    folder.mkdir(parents=True)
    (folder / "test.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    return str(folder)


def test_an_xsum_copy_loads_with_string_ids_and_one_sentence_prompts(tmp_path: Path) -> None:
    items = SummarizationBenchmark(layout="xsum", dataset=write_copy(tmp_path / "xsum", XSUM)).load()
    assert items["id"].to_list() == ["34268361", "38826984"]
    assert items["references"].to_list() == [[XSUM[0]["summary"]], [XSUM[1]["summary"]]]
    assert set(items["scorer"]) == {"rouge_l"} and set(items["category"]) == {"summarization"}
    assert items["prompt"][0].startswith("Summarize the following news article in one sentence.")
    assert XSUM[0]["document"] in items["prompt"][0] and set(items["license"]) == {"CC BY-SA 4.0 (XSum)"}


def test_a_cnn_dailymail_copy_reads_article_and_highlights(tmp_path: Path) -> None:
    benchmark = SummarizationBenchmark(dataset=write_copy(tmp_path / "cnn", CNN), scorer="rouge_l_zh")
    items = benchmark.load()
    assert items["reference_answer"].to_list() == [CNN[0]["highlights"]] and items["id"][0] == CNN[0]["id"]
    assert "in three or four sentences" in items["prompt"][0] and set(items["scorer"]) == {"rouge_l_zh"}


def test_a_row_of_the_other_layout_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(BenchmarkError, match="row 0 lacks 'article', 'highlights' or 'id'"):
        SummarizationBenchmark(dataset=write_copy(tmp_path / "xsum", XSUM)).load()


def test_each_layout_defaults_to_its_hub_dataset_and_config(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def rows(benchmark: str, path: str, name: str | None, split: str, **kwargs: object) -> list[dict]:
        calls.append((path, name, split))
        return CNN if name else XSUM

    monkeypatch.setattr(hub_benchmarks, "load_hub_rows", rows)
    monkeypatch.setattr(hub_benchmarks, "hub_commit", lambda dataset, revision: f"{revision} of {dataset}")
    cnn, xsum = SummarizationBenchmark(), SummarizationBenchmark(layout="xsum")
    assert cnn.load().height == 1 and xsum.load().height == 2
    assert calls == [("abisee/cnn_dailymail", "3.0.0", "test"), ("EdinburghNLP/xsum", None, "test")]
    assert (cnn.read_commit(), xsum.read_commit()) == ("None of abisee/cnn_dailymail",
                                                       "refs/convert/parquet of EdinburghNLP/xsum")
    with pytest.raises(ValidationError):
        SummarizationBenchmark(layout="samsum")
