from typing import Any

from alttrain.refusal import looks_like_refusal
from alttrain.structure import StructureSpec
from alttrain.testing.standin import standin_records


def test_standin_rows_have_the_export_columns_and_valid_traces() -> None:
    spec = StructureSpec()
    standin_rows: list[dict[str, Any]] = standin_records(harmful=6, benign=6, seed=0)
    columns = ["id", "prompt", "label", "category", "source", "license", "understanding", "assessment",
               "verdict", "reasoning", "answer", "trace", "messages"]
    assert [row["label"] for row in standin_rows] == ["harmful"] * 6 + ["benign"] * 6
    for row in standin_rows:
        assert list(row) == columns
        assert spec.validate(row["trace"], row["label"]) == []
        assert row["messages"] == [{"role": "user", "content": row["prompt"]},
                                   {"role": "assistant", "content": row["trace"]}]
        assert looks_like_refusal(row["answer"]) == (row["label"] == "harmful")
    benign = [row for row in standin_rows if row["label"] == "benign"]
    assert all(row["source"] == "reasoning_gym/gsm_symbolic" and row["answer"].strip() for row in benign)
