import json
from pathlib import Path

import datasets
import polars as pl
import pytest

from alttrain.datasheets.exports import HF_COLUMNS, think_parts, write_exports
from alttrain.errors import DatasheetError
from alttrain.structure import StructureSpec

from .runs import Run


def test_hf_export_keeps_the_training_contract(template_run: Run) -> None:
    curated = pl.read_parquet(template_run.run_dir / "curated.parquet")
    loaded = datasets.load_from_disk(str(template_run.run_dir / "dataset" / "hf"))
    assert isinstance(loaded, datasets.DatasetDict) and list(loaded) == ["train"]
    train = loaded["train"]
    assert train.column_names == list(HF_COLUMNS)
    assert train.num_rows == curated.height
    first = curated.row(0, named=True)
    record = train[0]
    assert record["id"] == first["id"]
    assert record["messages"] == [{"role": "user", "content": first["prompt"]},
                                  {"role": "assistant", "content": first["trace"]}]
    for column in ("prompt", "label", "category", "source", "license", "verdict", "answer", "trace"):
        assert train[column] == curated[column].to_list(), column


def test_training_stage_reads_the_export(template_run: Run) -> None:
    from alttrain.training.data import load_records

    records = load_records(template_run.run_dir / "dataset" / "hf")
    curated = pl.read_parquet(template_run.run_dir / "curated.parquet")
    assert [r["id"] for r in records] == curated["id"].to_list()
    assert all(r["messages"][-1]["role"] == "assistant" for r in records)


def test_jsonl_exports_reload_with_datasets(template_run: Run, tmp_path: Path) -> None:
    folder = template_run.run_dir / "dataset"
    curated = pl.read_parquet(template_run.run_dir / "curated.parquet")
    spec = template_run.config.structure

    def load(name: str) -> datasets.Dataset:
        return datasets.load_dataset("json", data_files=str(folder / name), split="train", cache_dir=str(tmp_path))

    chat = load("train.jsonl")
    assert chat.num_rows == curated.height and chat.column_names == ["messages"]
    assert chat[3]["messages"][1] == {"role": "assistant", "content": curated["trace"][3]}

    split = load("train_reasoning_content.jsonl")
    assert split.num_rows == curated.height
    for index in (0, curated.height - 1):
        assistant = split[index]["messages"][1]
        fields = spec.parse(curated["trace"][index])
        assert assistant["content"] == fields.answer
        assert spec.think_open not in assistant["reasoning_content"]
        assert f"{spec.think_open}\n{assistant['reasoning_content']}\n{spec.think_close}\n{assistant['content']}" == (
            curated["trace"][index])

    pairs = load("instruction_response.jsonl")
    assert pairs.column_names == ["instruction", "response"]
    assert pairs["instruction"] == curated["prompt"].to_list()
    assert pairs["response"] == curated["trace"].to_list()

    parquet = pl.read_parquet(folder / "train.parquet")
    assert parquet.columns == list(HF_COLUMNS) and parquet.height == curated.height


def test_think_parts_with_custom_markers() -> None:
    spec = StructureSpec(think_open="<reasoning>", think_close="</reasoning>")
    assert think_parts(spec, "<reasoning>\n body \n</reasoning>\n answer ") == ("body", "answer")
    with pytest.raises(DatasheetError, match="no closed <reasoning>"):
        think_parts(spec, "<reasoning> never closed")


def test_a_trace_without_think_block_names_its_row(template_run: Run, tmp_path: Path) -> None:
    curated = pl.read_parquet(template_run.run_dir / "curated.parquet")
    broken = curated.with_columns(pl.when(pl.col("id") == curated["id"][2]).then(pl.lit("just an answer"))
                                  .otherwise(pl.col("trace")).alias("trace"))
    with pytest.raises(DatasheetError, match=f"row {curated['id'][2]}: trace has no closed"):
        write_exports(broken, template_run.config.structure, tmp_path / "dataset")


def test_exports_replace_an_earlier_export(template_run: Run, tmp_path: Path) -> None:
    curated = pl.read_parquet(template_run.run_dir / "curated.parquet")
    folder = tmp_path / "dataset"
    write_exports(curated, template_run.config.structure, folder)
    smaller = write_exports(curated.head(3), template_run.config.structure, folder)
    assert smaller.rows == 3
    assert datasets.load_from_disk(str(folder / "hf"))["train"].num_rows == 3
    assert len((folder / "train.jsonl").read_text().splitlines()) == 3
    assert json.loads((folder / "instruction_response.jsonl").read_text().splitlines()[0])["instruction"] == (
        curated["prompt"][0])
    assert not list(folder.glob("*.tmp"))
