from pathlib import Path

import polars as pl
import pytest

from alttrain.errors import SchemaError
from alttrain.records import (
    PROMPT_SCHEMA,
    conform,
    read_stage,
    record_id,
    with_columns_on_all_cores,
    write_stage,
)


def prompts_frame() -> pl.DataFrame:
    frame = pl.DataFrame({"prompt": ["What is 2+2?"], "label": ["benign"], "category": ["math"],
                          "source": ["unit"], "license": ["MIT"]})
    return conform(frame.with_columns(pl.lit(record_id("unit", "What is 2+2?")).alias("id")), "prompts")


def test_record_id_is_stable_and_normalised() -> None:
    assert record_id("s", "Hello  World") == record_id("s", "hello world")
    assert record_id("s", "Hello") != record_id("t", "Hello")
    assert len(record_id("s", "x")) == 16


def test_write_then_read_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "prompts.parquet"
    write_stage(prompts_frame(), path, "prompts")
    back = read_stage(path, "prompts")
    assert back.columns[: len(PROMPT_SCHEMA)] == list(PROMPT_SCHEMA)
    assert back["prompt"].to_list() == ["What is 2+2?"]


def test_missing_column_names_file_and_column(tmp_path: Path) -> None:
    path = tmp_path / "prompts.parquet"
    prompts_frame().drop("category").write_parquet(path)
    with pytest.raises(SchemaError, match=r"prompts\.parquet: missing column 'category'"):
        read_stage(path, "prompts")


def test_wrong_dtype_names_column(tmp_path: Path) -> None:
    path = tmp_path / "prompts.parquet"
    prompts_frame().with_columns(pl.lit(3).alias("label")).write_parquet(path)
    with pytest.raises(SchemaError, match="column 'label' has dtype Int32, expected String"):
        read_stage(path, "prompts")


def test_missing_file_names_the_stage(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="run the 'prompts' stage first"):
        read_stage(tmp_path / "nope.parquet", "prompts")


def test_write_refuses_a_frame_off_schema(tmp_path: Path) -> None:
    with pytest.raises(SchemaError):
        write_stage(pl.DataFrame({"prompt": ["x"]}), tmp_path / "p.parquet", "prompts")
    assert not (tmp_path / "p.parquet").exists()


def test_with_columns_on_all_cores_keeps_rows_in_order() -> None:
    parts = [pl.DataFrame({"text": [f"w{i} " * (i % 7) for i in range(start, start + 5000)]}) for start in (0, 5000)]
    frame = pl.concat(parts, rechunk=False)
    counted = with_columns_on_all_cores(frame, pl.col("text").str.count_matches(r"\w+").alias("words"))
    assert counted.equals(frame.with_columns(pl.col("text").str.count_matches(r"\w+").alias("words")))
    assert counted["words"].to_list()[:8] == [0, 1, 2, 3, 4, 5, 6, 0]


def test_a_file_that_is_not_parquet_is_a_schema_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "prompts.parquet"
    path.write_bytes(b"\xff\xfe not parquet at all")
    with pytest.raises(SchemaError, match=r"prompts.parquet: not a readable parquet file"):
        read_stage(path, "prompts")
