"""Reading a batch's lines: a line that parses but has wrong types or another model is refused, never raised."""

import json
from pathlib import Path

import pytest

from alttrain.execution.batch.lines import answered_by, input_keys, input_parts, read_result

GOOD = {"model": "gpt-4o", "choices": [{"message": {"content": "hi"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1}}


def output_line(body: object, status: object = 200) -> str:
    return json.dumps({"custom_id": "k", "response": {"status_code": status, "body": body}, "error": None})


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        ({**GOOD, "usage": {"prompt_tokens": "n/a"}}, 200, "usage.prompt_tokens is 'n/a', not a whole number"),
        ({**GOOD, "usage": {"completion_tokens": [1]}}, 200, "usage.completion_tokens is [1], not a whole number"),
        ({**GOOD, "usage": {"completion_tokens": 2.5}}, 200, "usage.completion_tokens is 2.5, not a whole number"),
        (GOOD, "200", "response.status_code is '200', not an HTTP status"),
        (GOOD, None, "response.status_code is None, not an HTTP status"),
        ({"choices": []}, 200, "response has no choices[0].message"),
    ],
)
def test_a_line_of_the_wrong_types_is_refused_as_unusable(body: object, status: object, reason: str) -> None:
    result = read_result(output_line(body, status), models=("gpt-4o",))
    assert result is not None and result.response is None and result.transient  # its request is sent again
    assert result.flaw == "unusable" and reason in (result.failure or "")


@pytest.mark.parametrize(
    ("model", "taken"),
    [("gpt-4o", True), ("gpt-4o-2024-08-06", True), ("gpt-4o-0613", True), ("gpt-4o-mini", False),
     ("gpt-4o-mini-2024-07-18", False), ("some-other-model", False), (7, False), ("my-deployment", True)],
)
def test_an_answer_from_another_model_is_refused_as_foreign(model: object, taken: bool) -> None:
    result = read_result(output_line({**GOOD, "model": model}), models=("gpt-4o", "my-deployment"))
    assert result is not None and (result.response is not None) == taken
    if not taken:
        assert (result.flaw, result.transient) == ("foreign", True)
        assert result.failure == f"answered by model {model!r}, not 'gpt-4o' or 'my-deployment'"
    assert answered_by(("gpt-4o", "my-deployment"), model) == taken


def test_a_line_that_is_not_json_or_nests_too_deep_is_no_line() -> None:
    assert read_result('{"custom_id": "k", "response": {"status_') is None
    assert read_result("[" * 100_000) is None


def test_input_keys_read_requests_holding_unicode_line_breaks(tmp_path: Path) -> None:
    bodies = {f"k{i}": {"messages": [{"role": "user", "content": f"a{c}b"}]} for i, c in enumerate("\x85\u2028\u2029")}
    ((keys, text),) = input_parts(bodies, 10, 10**6)
    assert "\u2028" in text  # written raw (ensure_ascii=False), as the service takes it
    path = tmp_path / "round.jsonl"
    path.write_text(text, encoding="utf-8")
    assert input_keys(path) == keys == ["k0", "k1", "k2"]
