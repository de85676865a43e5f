from pathlib import Path
from typing import Any

import pytest

from alttrain.errors import TemplateCheckError
from alttrain.models.templates import SHIPPED_TEMPLATES, resolve_template, shipped_template
from alttrain.structure import StructureSpec, TraceFields
from alttrain.training.chat import IGNORE_INDEX, ChatRenderer, TokenizedExample, resolve_format
from alttrain.training.template_check import check_example

SPEC = StructureSpec()
R1_ASSISTANT_TURN = "{{'<｜Assistant｜>' + content + '<｜end▁of▁sentence｜>'}}"


def tokenized(tokenizer: Any, template: str, messages: list[dict], fmt: str = "auto") -> TokenizedExample:
    chosen = resolve_template(template, tokenizer)
    return ChatRenderer(tokenizer, chosen, resolve_format(fmt, chosen), SPEC).tokenize(messages)


@pytest.mark.parametrize("template", [*SHIPPED_TEMPLATES, "auto"])
@pytest.mark.parametrize("row", [0, -1], ids=["harmful", "benign"])
def test_every_shipped_template_passes_in_auto_format(
    template: str, row: int, smollm2_tokenizer: Any, standin_rows: list[dict]
) -> None:
    messages = standin_rows[row]["messages"]
    example = tokenized(smollm2_tokenizer, template, messages)
    check = check_example(example, messages, smollm2_tokenizer, SPEC)
    assert check.trained_tokens == example.trained_tokens > 0
    assert check.prompt_tokens_trained == check.trace_tokens_missed == 0
    assert check.eos_trained


def test_r1_template_in_conversation_mode_loses_the_think_block(
    tmp_path: Path, smollm2_tokenizer: Any, standin_rows: list[dict]
) -> None:
    # The real R1-Distill template with generation markers added around the assistant turn: it still
    # drops everything up to </think>, so training on the full conversation would never see the trace.
    text = shipped_template("deepseek_r1_distill").text
    assert R1_ASSISTANT_TURN in text
    marked = tmp_path / "r1_marked.jinja"
    marked.write_text(text.replace(R1_ASSISTANT_TURN, "{% generation %}" + R1_ASSISTANT_TURN + "{% endgeneration %}"))
    messages = standin_rows[0]["messages"]
    example = tokenized(smollm2_tokenizer, str(marked), messages, "conversation")
    with pytest.raises(TemplateCheckError, match="think block is lost") as caught:
        check_example(example, messages, smollm2_tokenizer, SPEC)
    assert "<think>" not in smollm2_tokenizer.decode(example.input_ids)
    assert len(caught.value.problems) == 1


def test_qwen3_reformatted_think_block_still_passes_in_conversation_mode(
    tmp_path: Path, smollm2_tokenizer: Any, standin_rows: list[dict]
) -> None:
    # Qwen3 re-renders the final turn's reasoning as <think>\n...\n</think>\n\n: spacing changes, content does not.
    text = shipped_template("qwen3").text
    opening = '{%- elif message.role == "assistant" %}'
    closing = "{{- '<|im_end|>\\n' }}\n    {%- elif message.role == \"tool\" %}"
    assert opening in text and closing in text
    text = text.replace(opening, opening + "{% generation %}", 1)
    text = text.replace(closing, closing.replace("}}", "}}{% endgeneration %}", 1), 1)
    marked = tmp_path / "qwen3_marked.j2"
    marked.write_text(text)
    messages = standin_rows[-1]["messages"]
    example = tokenized(smollm2_tokenizer, str(marked), messages, "conversation")
    assert "</think>\n\n" in smollm2_tokenizer.decode(example.input_ids)
    assert check_example(example, messages, smollm2_tokenizer, SPEC).trace_tokens_missed == 0


def test_mask_over_the_whole_sequence_is_caught(smollm2_tokenizer: Any, standin_rows: list[dict]) -> None:
    messages = standin_rows[0]["messages"]
    example = tokenized(smollm2_tokenizer, "chatml", messages, "prompt_completion")
    everything = TokenizedExample(example.input_ids, list(example.input_ids))
    with pytest.raises(TemplateCheckError, match=r"covers \d+ prompt token"):
        check_example(everything, messages, smollm2_tokenizer, SPEC)


def test_template_marking_the_user_turn_is_caught(
    tmp_path: Path, smollm2_tokenizer: Any, standin_rows: list[dict]
) -> None:
    wrong = tmp_path / "all_marked.j2"
    wrong.write_text(
        "{% for m in messages %}{% generation %}"
        "{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}"
        "{% endgeneration %}{% endfor %}"
    )
    messages = standin_rows[-1]["messages"]
    example = tokenized(smollm2_tokenizer, str(wrong), messages)
    with pytest.raises(TemplateCheckError, match="prompt token"):
        check_example(example, messages, smollm2_tokenizer, SPEC)


def test_mask_missing_the_reasoning_is_caught(smollm2_tokenizer: Any, standin_rows: list[dict]) -> None:
    messages = standin_rows[-1]["messages"]
    example = tokenized(smollm2_tokenizer, "chatml", messages, "prompt_completion")
    trained_at = [i for i, label in enumerate(example.labels) if label != IGNORE_INDEX]
    labels = list(example.labels)
    for index in trained_at[len(trained_at) // 3 : len(trained_at) // 2]:  # a stretch inside the reasoning
        labels[index] = IGNORE_INDEX
    with pytest.raises(TemplateCheckError, match=r"misses \d+ token\(s\) of the trace"):
        check_example(TokenizedExample(example.input_ids, labels), messages, smollm2_tokenizer, SPEC)


def test_nothing_trained_and_lost_answer_are_caught(smollm2_tokenizer: Any, standin_rows: list[dict]) -> None:
    messages = standin_rows[0]["messages"]
    example = tokenized(smollm2_tokenizer, "chatml", messages, "prompt_completion")
    untrained = TokenizedExample(example.input_ids, [IGNORE_INDEX] * len(example.input_ids))
    with pytest.raises(TemplateCheckError, match="no token carries loss"):
        check_example(untrained, messages, smollm2_tokenizer, SPEC)
    answer = SPEC.parse(messages[-1]["content"]).answer
    cut = len(smollm2_tokenizer(answer, add_special_tokens=False)["input_ids"]) + 1
    truncated = TokenizedExample(example.input_ids[:-cut], example.labels[:-cut])
    with pytest.raises(TemplateCheckError, match="answer is missing"):
        check_example(truncated, messages, smollm2_tokenizer, SPEC)


def test_a_chinese_example_is_checked_in_its_markers(smollm2_tokenizer: Any) -> None:
    fields = TraceFields("用户问一周有几天。", "回答不会伤害任何人。", "benign", "共七天。", "七天。")
    trace = SPEC.render(fields, "zh")
    messages = [{"role": "user", "content": "一周有几天？"}, {"role": "assistant", "content": trace}]
    example = tokenized(smollm2_tokenizer, "chatml", messages, "prompt_completion")
    check = check_example(example, messages, smollm2_tokenizer, SPEC)
    assert check.trace_tokens_missed == 0 and check.prompt_tokens_trained == 0
