from collections.abc import Callable
from pathlib import Path
from typing import Any

import datasets
import pytest

from alttrain.errors import TrainingDataError
from alttrain.models.templates import shipped_template
from alttrain.structure import StructureSpec, TraceFields
from alttrain.training.chat import IGNORE_INDEX, ChatRenderer
from alttrain.training.data import load_records, prepare

SPEC = StructureSpec()


@pytest.fixture
def chat(smollm2_tokenizer: Any) -> ChatRenderer:
    return ChatRenderer(smollm2_tokenizer, shipped_template("chatml"), "prompt_completion", SPEC)


def with_assistant(row: dict[str, Any], content: str) -> dict[str, Any]:
    return {**row, "messages": [row["messages"][0], {"role": "assistant", "content": content}]}


def test_load_reads_the_train_split(save_rows: Callable, standin_rows: list[dict]) -> None:
    records = load_records(save_rows(standin_rows))
    assert [r["id"] for r in records] == [r["id"] for r in standin_rows]
    assert records[0]["messages"][1]["content"] == standin_rows[0]["trace"]


def test_load_errors_name_the_problem(tmp_path: Path, standin_rows: list[dict]) -> None:
    with pytest.raises(TrainingDataError, match="not found"):
        load_records(tmp_path / "absent")
    no_messages = tmp_path / "no_messages"
    rows = [{k: v for k, v in row.items() if k != "messages"} for row in standin_rows]
    datasets.DatasetDict({"train": datasets.Dataset.from_list(rows)}).save_to_disk(str(no_messages))
    with pytest.raises(TrainingDataError, match=r"missing column\(s\) \['messages'\]"):
        load_records(no_messages)
    other_split = tmp_path / "other_split"
    datasets.DatasetDict({"test": datasets.Dataset.from_list(standin_rows)}).save_to_disk(str(other_split))
    with pytest.raises(TrainingDataError, match="no 'train' split"):
        load_records(other_split)
    not_a_dataset = tmp_path / "plain"
    not_a_dataset.mkdir()
    with pytest.raises(TrainingDataError, match="not a saved Hugging Face dataset"):
        load_records(not_a_dataset)


def test_bad_rows_are_dropped_with_reasons_and_counts_add_up(chat: ChatRenderer, standin_rows: list[dict]) -> None:
    good = standin_rows[:4]
    bad = [
        with_assistant(standin_rows[4], "   "),
        with_assistant(standin_rows[5], "Sure, here is an answer without any structure."),
        {**standin_rows[6], "messages": [standin_rows[6]["messages"][0]]},
        {**standin_rows[7], "messages": list(reversed(standin_rows[7]["messages"]))},
    ]
    prepared = prepare(good + bad, chat, SPEC, max_length=2048, overlength="drop")
    assert prepared.rows_used == 4
    assert dict(prepared.dropped) == {"empty_assistant_turn": 1, "unstructured_trace": 1, "no_assistant_turn": 2}
    assert prepared.rows_in == prepared.rows_used + sum(prepared.dropped.values())
    assert prepared.messages == [row["messages"] for row in good]
    assert prepared.trained_tokens_per_epoch == sum(e.trained_tokens for e in prepared.examples) > 0
    dataset = prepared.to_dataset()
    assert dataset.column_names == ["input_ids", "labels", "length"] and len(dataset) == 4
    assert dataset["length"] == [len(ids) for ids in dataset["input_ids"]]  # what group_by_length sorts on


def test_over_length_rows_drop_truncate_or_stop(chat: ChatRenderer, standin_rows: list[dict]) -> None:
    lengths = sorted(len(chat.tokenize(row["messages"]).input_ids) for row in standin_rows)
    limit = lengths[len(lengths) // 2]
    longer = sum(length > limit for length in lengths)
    assert 0 < longer < len(lengths)

    dropped = prepare(standin_rows, chat, SPEC, max_length=limit, overlength="drop")
    assert dropped.dropped["over_length"] == longer and dropped.rows_used == len(lengths) - longer
    assert max(len(e.input_ids) for e in dropped.examples) <= limit

    truncated = prepare(standin_rows, chat, SPEC, max_length=limit, overlength="truncate")
    assert truncated.truncated == longer and truncated.rows_used == len(lengths)
    assert max(len(e.input_ids) for e in truncated.examples) == limit

    with pytest.raises(TrainingDataError, match=f"over max_length {limit}"):
        prepare(standin_rows, chat, SPEC, max_length=limit, overlength="error")


def test_truncation_that_leaves_nothing_to_train_drops_the_row(chat: ChatRenderer, standin_rows: list[dict]) -> None:
    example = chat.tokenize(standin_rows[0]["messages"])
    prompt_tokens = next(i for i, label in enumerate(example.labels) if label != IGNORE_INDEX)
    with pytest.raises(TrainingDataError, match="no row is left.*'over_length': 1"):
        prepare(standin_rows[:1], chat, SPEC, max_length=prompt_tokens, overlength="truncate")


def test_a_chinese_row_is_parsed_in_its_own_markers(chat: ChatRenderer) -> None:
    fields = TraceFields("用户问一周有几天。", "回答不会伤害任何人。", "benign", "共七天。", "七天。")
    rows = [
        {"id": "zh", "messages": [{"role": "user", "content": "一周有几天？"},
                                  {"role": "assistant", "content": SPEC.render(fields, "zh")}]},
        {"id": "zh-in-english-markers", "messages": [{"role": "user", "content": "一周有几天？"},
                                                     {"role": "assistant", "content": SPEC.render(fields)}]},
        {"id": "column", "language": "zh", "messages": [{"role": "user", "content": "How many days in a week?"},
                                                        {"role": "assistant", "content": SPEC.render(fields, "zh")}]},
    ]
    prepared = prepare(rows, chat, SPEC, max_length=2048, overlength="drop")
    assert prepared.rows_used == 2 and dict(prepared.dropped) == {"unstructured_trace": 1}
