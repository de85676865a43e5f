"""Math benchmark loaders on fixtures in the real files' layouts, read through ``datasets`` as the real ones are."""

import json
from pathlib import Path

import polars as pl
import pytest
from pydantic import TypeAdapter

from alttrain.errors import BenchmarkError
from alttrain.evaluation.benchmarks import ITEM_SCHEMA
from alttrain.evaluation.capability.math import (
    BOXED_INSTRUCTION,
    AIME24Benchmark,
    GSM8KBenchmark,
    Math500Benchmark,
    MGSMBenchmark,
)
from alttrain.evaluation.config import BenchmarkConfig, EvaluationConfig
from alttrain.evaluation.scoring import score_outputs
from alttrain.measures import TokenizerConfig, make_counter
from alttrain.records import record_id
from alttrain.structure import StructureSpec

GSM8K = [  # openai/grade-school-math test.jsonl: question, answer ending in "#### <number>"
    {"question": "Tom has 3 apples and buys 4 more. How many apples does he have?",
     "answer": "Tom has 3 + 4 = <<3+4=7>>7 apples.\n#### 7"},
    {"question": "A farm sells 1,000 eggs a day for 2 days and 125 more. How many eggs?",
     "answer": "It sells 1000 * 2 + 125 = <<1000*2+125=2125>>2125 eggs.\n#### 2,125"},
]  # fmt: skip
MATH500 = [  # prm800k's math_splits/test.jsonl (HuggingFaceH4/MATH-500): level is an int
    {"problem": "Convert $(0,3)$ to polar coordinates.",
     "solution": "So $\\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}$.",
     "answer": "\\left( 3, \\frac{\\pi}{2} \\right)", "subject": "Precalculus", "level": 2,
     "unique_id": "test/precalculus/807.json"},
]  # fmt: skip
AIME24 = [  # AI-MO/aimo-validation-aime's 2024 rows: id an int, answer a zero-padded string
    {"id": 60, "problem": "Find the remainder when $2^{10}$ is divided by $1000$.", "solution": "It is $24$.",
     "answer": "024", "url": "https://artofproblemsolving.com/wiki/index.php/2024_AIME_I_Problems/Problem_1"},
]  # fmt: skip
MGSM_EN = 'A robe takes 2 bolts of "blue" fiber and half that much white fiber. How many bolts?\t3\n'
MGSM_ZH = (
    "一件袍子需要 2 匹蓝色布料和一半数量的白色布料。一共需要多少匹？\t3\n"
    "农场卖了 1,000 颗蛋又卖了 1,125 颗。一共多少颗？\t2,125\n"
)


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return path


def test_gsm8k_reads_the_number_after_the_marks_from_a_folder_or_the_file(tmp_path: Path) -> None:
    file = write_jsonl(tmp_path / "gsm8k" / "test.jsonl", GSM8K)
    for dataset in (file.parent, file):
        items = GSM8KBenchmark(dataset=str(dataset)).load()
        assert items.columns == list(ITEM_SCHEMA)
        assert items["reference_answer"].to_list() == ["7", "2,125"]
        assert items["references"].to_list() == [["7"], ["2,125"]]
        assert set(items["scorer"]) == {"math"} and set(items["label"]) == {"benign"}
        assert set(items["category"]) == {"math"} and set(items["source"]) == {"gsm8k"}
        assert items["license"][0] == "MIT (GSM8K)"
        assert items["id"][0] == record_id("gsm8k", GSM8K[0]["question"])
        assert items["prompt"][0] == f"{GSM8K[0]['question']}\n\n{BOXED_INSTRUCTION}"


def test_math500_and_aime24_read_answer_as_the_reference(tmp_path: Path) -> None:
    math500 = Math500Benchmark(dataset=str(write_jsonl(tmp_path / "math500" / "test.jsonl", MATH500).parent))
    items = math500.load()
    assert items["reference_answer"].to_list() == [MATH500[0]["answer"]] and items["source"][0] == "math500"
    aime = AIME24Benchmark(dataset=str(write_jsonl(tmp_path / "aime24" / "test.jsonl", AIME24)), instruction=None)
    items = aime.load()
    assert items["reference_answer"].to_list() == ["024"] and items["prompt"][0] == AIME24[0]["problem"]
    assert aime.read_commit() is None  # a local file outside a Hub snapshot


def test_mgsm_reads_its_headerless_tsv_per_language(tmp_path: Path) -> None:
    (tmp_path / "mgsm_en.tsv").write_text(MGSM_EN, encoding="utf-8")
    (tmp_path / "mgsm_zh.tsv").write_text(MGSM_ZH, encoding="utf-8")
    english = MGSMBenchmark(dataset=str(tmp_path)).load()
    assert english["source"].to_list() == ["mgsm_en"] and english["reference_answer"].to_list() == ["3"]
    assert english["prompt"][0].startswith('A robe takes 2 bolts of "blue" fiber')  # quotes are text, not quoting
    chinese = MGSMBenchmark(dataset=str(tmp_path), language="zh").load()
    assert chinese["reference_answer"].to_list() == ["3", "2,125"]  # the first row is data, not a header
    assert MGSMBenchmark(dataset=str(tmp_path / "mgsm_zh.tsv"), language="zh").load().equals(chinese)
    assert MGSMBenchmark(language="zh").name == "mgsm_zh"


def test_items_score_through_the_eval_stage_scoring(tmp_path: Path) -> None:
    """The final answer after the think block, graded by ``math``; its extraction shown per row."""
    items = GSM8KBenchmark(dataset=str(write_jsonl(tmp_path / "test.jsonl", GSM8K))).load()
    outputs = ["<think>3 + 4 = 7, or is it \\boxed{8}?</think>\nTom has \\boxed{7} apples.",
               "<think>1000 * 2 + 125</think>\nIt sells 2120 eggs."]  # fmt: skip
    scored = score_outputs(items.with_columns(pl.Series("output", outputs)), StructureSpec(),
                           make_counter(TokenizerConfig()))  # fmt: skip
    assert scored["answer_correct"].to_list() == [True, False]
    assert scored["extracted_answer"].to_list() == ["7", "2120"]
    assert scored["answer_check"].to_list() == ["scorer:math", "scorer:math"]


def test_config_names_each_kind_with_every_item_by_default() -> None:
    adapter = TypeAdapter(BenchmarkConfig)
    kinds = {"gsm8k": GSM8KBenchmark, "math500": Math500Benchmark, "aime24": AIME24Benchmark, "mgsm": MGSMBenchmark}
    for kind, cls in kinds.items():
        benchmark = adapter.validate_python({"kind": kind})
        assert isinstance(benchmark, cls) and benchmark.n is None and benchmark.seed == 0
    assert adapter.validate_python({"kind": "mgsm", "language": "zh"}).dataset == "juletxara/mgsm"
    both = EvaluationConfig(benchmarks=[{"kind": "mgsm", "language": "en"}, {"kind": "mgsm", "language": "zh"}])
    assert [benchmark.name for benchmark in both.benchmarks] == ["mgsm_en", "mgsm_zh"]  # two names, not a duplicate


def test_rows_without_a_reference_are_errors(tmp_path: Path) -> None:
    broken = [{"question": "How many?", "answer": "There are 7."}]
    with pytest.raises(BenchmarkError, match="row 0's answer has no '#### <number>' line"):
        GSM8KBenchmark(dataset=str(write_jsonl(tmp_path / "a" / "test.jsonl", broken))).load()
    empty = [{**MATH500[0], "problem": "  "}]
    with pytest.raises(BenchmarkError, match="row 0 has an empty problem"):
        Math500Benchmark(dataset=str(write_jsonl(tmp_path / "b" / "test.jsonl", empty))).load()
    with pytest.raises(BenchmarkError, match="has no 'problem'"):
        AIME24Benchmark(dataset=str(write_jsonl(tmp_path / "c" / "test.jsonl", GSM8K))).load()
    (tmp_path / "d.txt").write_text("x")
    with pytest.raises(BenchmarkError, match="a local file must end in"):
        AIME24Benchmark(dataset=str(tmp_path / "d.txt")).load()
