"""CMMLU from a local copy in the release layout: ``data/test/<subject>.csv``, ``,Question,A,B,C,D,Answer``."""

from pathlib import Path

import pytest

from alttrain.errors import BenchmarkError
from alttrain.evaluation import hub_benchmarks
from alttrain.evaluation.capability.multiple_choice import CmmluBenchmark

AGRONOMY = (",Question,A,B,C,D,Answer\n"
            "0,最主要的不可替代的基本生产资料是,农业生产工具,土地,劳动力,资金,B\n"
            "1,立体孵化器孵化鸡蛋的最适温度为,36°C,37.8°C,36.5°C,37°C,B\n")
ECONOMICS = ",Question,A,B,C,D,Answer\n0,\"需求曲线向右下方倾斜，是因为\",收入效应,替代效应,\"两者, 都是\",都不是,C\n"


def write_copy(root: Path, files: dict[str, str]) -> str:
    folder = root / "cmmlu" / "data" / "test"
    folder.mkdir(parents=True)
    for subject, text in files.items():
        (folder / f"{subject}.csv").write_text(text, encoding="utf-8")
    return str(root / "cmmlu")


def test_every_subject_present_loads_with_letter_references(tmp_path: Path) -> None:
    items = CmmluBenchmark(dataset=write_copy(tmp_path, {"agronomy": AGRONOMY, "economics": ECONOMICS})).load()
    assert items["id"].to_list() == ["agronomy/0", "agronomy/1", "economics/0"]
    assert items["references"].to_list() == [["B"], ["B"], ["C"]] and set(items["scorer"]) == {"letter"}
    choices = "\nA. 收入效应\nB. 替代效应\nC. 两者, 都是\nD. 都不是"
    assert items["prompt"][2].endswith("需求曲线向右下方倾斜，是因为" + choices)
    assert "答案：X" in items["prompt"][0] and set(items["license"]) == {"CC BY-NC-SA 4.0 (CMMLU)"}


def test_subjects_pick_and_a_missing_one_is_an_error(tmp_path: Path) -> None:
    dataset = write_copy(tmp_path, {"agronomy": AGRONOMY, "economics": ECONOMICS})
    assert CmmluBenchmark(dataset=dataset, subjects=["economics"]).load()["id"].to_list() == ["economics/0"]
    with pytest.raises(BenchmarkError, match="has no subject virology"):
        CmmluBenchmark(dataset=dataset, subjects=["virology"]).load()


def test_an_answer_outside_a_to_d_is_an_error(tmp_path: Path) -> None:
    dataset = write_copy(tmp_path, {"agronomy": AGRONOMY.replace("资金,B", "资金,E")})
    with pytest.raises(BenchmarkError, match="agronomy row 0 .* answer 'E' is not one of A-D"):
        CmmluBenchmark(dataset=dataset).load()


def test_a_folder_without_subject_csvs_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "cmmlu").mkdir()
    with pytest.raises(BenchmarkError, match="no subject CSVs"):
        CmmluBenchmark(dataset=str(tmp_path / "cmmlu")).load()


def test_the_hub_reads_each_subject_config_of_the_parquet_export(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def rows(benchmark: str, path: str, name: str | None, split: str, **kwargs: object) -> list[dict]:
        calls.append((path, name, split))
        return [{"Question": "1+1=", "A": "1", "B": "2", "C": "3", "D": "4", "Answer": "B"}]

    monkeypatch.setattr(hub_benchmarks, "load_hub_rows", rows)
    monkeypatch.setattr(hub_benchmarks, "hub_commit", lambda dataset, revision: "0" * 40)
    items = CmmluBenchmark(subjects=["agronomy", "virology"]).load()
    assert items["id"].to_list() == ["agronomy/0", "virology/0"]
    assert calls == [("haonan-li/cmmlu", "agronomy", "test"), ("haonan-li/cmmlu", "virology", "test")]
