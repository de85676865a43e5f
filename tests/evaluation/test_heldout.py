from pathlib import Path

import polars as pl
import pytest

from alttrain.evaluation.benchmarks import to_items
from alttrain.evaluation.heldout import (
    OVERLAP_ID,
    OVERLAP_NEAR_DUP,
    OVERLAP_TEXT,
    TrainingSet,
    load_training_set,
    overlap_reasons,
)
from alttrain.neardup import DedupConfig
from alttrain.records import conform, record_id, write_stage
from alttrain.testing.standin import save_dataset, standin_records

LONG = ("A bakery sells loaves of bread for four dollars each and muffins for two dollars each; on Monday it sold "
        "twelve loaves and thirty muffins, and on Tuesday twice as many loaves. How much did it earn in total?")


def items(prompts: list[str], source: str = "eval") -> pl.DataFrame:
    frame = pl.DataFrame({"prompt": prompts, "label": ["benign"] * len(prompts), "source": [source] * len(prompts)})
    frame = frame.with_columns(pl.col("prompt").map_elements(lambda p: record_id(source, p), return_dtype=pl.String)
                               .alias("id"))
    return to_items(conform(frame, "prompts"), source)


def test_training_set_is_read_from_the_exported_dataset(tmp_path: Path) -> None:
    rows = standin_records(harmful=3, benign=2)
    save_dataset(rows, tmp_path / "dataset" / "hf")
    pool = conform(pl.DataFrame({"id": ["x"], "prompt": ["p"]}), "prompts")
    write_stage(pool, tmp_path / "prompts.parquet", "prompts")
    training = load_training_set(tmp_path)
    assert training.path == tmp_path / "dataset" / "hf"
    assert training.ids == {row["id"] for row in rows}
    assert sorted(training.prompts) == sorted(row["prompt"] for row in rows)


def test_prompt_pool_stands_in_when_there_is_no_export(tmp_path: Path) -> None:
    pool = conform(pl.DataFrame({"id": ["a", "b"], "prompt": ["first", "second"]}), "prompts")
    write_stage(pool, tmp_path / "prompts.parquet", "prompts")
    training = load_training_set(tmp_path)
    assert training.path == tmp_path / "prompts.parquet" and training.ids == {"a", "b"}


def test_missing_training_set_is_an_error_unless_not_required(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="require_training_set: false"):
        load_training_set(tmp_path)
    with pytest.raises(FileNotFoundError, match="no training set at .*elsewhere"):
        load_training_set(tmp_path, tmp_path / "elsewhere", required=False)
    empty = load_training_set(tmp_path, required=False)
    assert not empty.found and empty.ids == frozenset()


def test_overlaps_by_id_text_and_near_duplicate() -> None:
    training = TrainingSet(Path("train"), frozenset({record_id("eval", "Same source, same prompt.")}),
                           ("Same source, same prompt.", "What is   the CAPITAL of France?", LONG))
    candidates = items([
        "same source,  SAME prompt.",  # same normalised text and source: the same id
        "what is the capital of france?",  # same normalised text, other id
        LONG.replace("thirty muffins", "thirty-one muffins"),  # one word changed
        "Name three primary colours.",  # held out
    ])
    reasons = overlap_reasons(candidates, training, DedupConfig())
    assert reasons.to_list() == [OVERLAP_ID, OVERLAP_TEXT, OVERLAP_NEAR_DUP, None]
    strict = overlap_reasons(candidates, training, DedupConfig(near=False))
    assert strict.to_list() == [OVERLAP_ID, OVERLAP_TEXT, None, None]
