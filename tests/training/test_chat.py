from pathlib import Path
from typing import Any

import pytest

from alttrain.errors import ChatTemplateError
from alttrain.models.templates import SHIPPED_TEMPLATES, resolve_template, shipped_template
from alttrain.structure import StructureSpec, TraceFields
from alttrain.training.chat import IGNORE_INDEX, ChatRenderer, conversation_language, resolve_format

SPEC = StructureSpec()


def renderer(tokenizer: Any, template: str, fmt: str = "auto") -> ChatRenderer:
    chosen = resolve_template(template, tokenizer)
    return ChatRenderer(tokenizer, chosen, resolve_format(fmt, chosen), SPEC)


def test_every_shipped_template_loads_and_only_chatml_has_generation_markers() -> None:
    for name in SHIPPED_TEMPLATES:
        template = shipped_template(name)
        assert "messages" in template.text
        assert template.has_generation_markers == (name == "chatml")


def test_auto_prefers_the_tokenizers_own_template(smollm2_tokenizer: Any) -> None:
    assert resolve_template("auto", smollm2_tokenizer).name == "tokenizer"
    assert "SmolLM" in resolve_template("auto", smollm2_tokenizer).text


def test_template_from_a_file_and_bad_names(tmp_path: Path, smollm2_tokenizer: Any) -> None:
    path = tmp_path / "mine.jinja"
    path.write_text("{% for m in messages %}{{ m['content'] }}{% endfor %}")
    assert resolve_template(str(path), smollm2_tokenizer).text == path.read_text()
    with pytest.raises(ChatTemplateError, match="unknown chat template|neither"):
        resolve_template("vicuna", smollm2_tokenizer)
    with pytest.raises(ChatTemplateError, match="not found"):
        resolve_template(str(tmp_path / "absent.j2"), smollm2_tokenizer)


def test_format_auto_follows_generation_markers() -> None:
    assert resolve_format("auto", shipped_template("chatml")) == "conversation"
    assert resolve_format("auto", shipped_template("qwen3")) == "prompt_completion"
    assert resolve_format("prompt_completion", shipped_template("chatml")) == "prompt_completion"
    with pytest.raises(ChatTemplateError, match="generation"):
        resolve_format("conversation", shipped_template("deepseek_r1_distill"))


def test_r1_prompt_prefills_think_and_completion_does_not_repeat_it(
    smollm2_tokenizer: Any, standin_rows: list[dict]
) -> None:
    messages = standin_rows[0]["messages"]
    chat = renderer(smollm2_tokenizer, "deepseek_r1_distill")
    prompt = chat.prompt_text(messages)
    completion = chat.completion_text(prompt, messages[-1]["content"])
    assert prompt.endswith("<｜Assistant｜><think>\n")
    assert completion.startswith(SPEC.understanding_header)
    assert completion.endswith(smollm2_tokenizer.eos_token)
    assert prompt + completion.removesuffix(smollm2_tokenizer.eos_token) == prompt.removesuffix(
        "<think>\n"
    ) + messages[-1]["content"]


@pytest.mark.parametrize("template", ["chatml", "llama3", "qwen3", "auto"])
def test_prompt_completion_trains_the_whole_trace_and_eos_only(
    template: str, smollm2_tokenizer: Any, standin_rows: list[dict]
) -> None:
    messages = standin_rows[-1]["messages"]
    chat = renderer(smollm2_tokenizer, template, "prompt_completion")
    example = chat.tokenize(messages)
    prompt_ids = smollm2_tokenizer(chat.prompt_text(messages), add_special_tokens=False)["input_ids"]
    assert example.input_ids[: len(prompt_ids)] == prompt_ids  # the very prefix seen at inference
    assert set(example.labels[: len(prompt_ids)]) == {IGNORE_INDEX}
    trained = [tok for tok, label in zip(example.input_ids, example.labels, strict=True) if label != IGNORE_INDEX]
    assert smollm2_tokenizer.decode(trained) == messages[-1]["content"] + smollm2_tokenizer.eos_token


def test_conversation_format_masks_by_generation_markers(smollm2_tokenizer: Any, standin_rows: list[dict]) -> None:
    messages = standin_rows[0]["messages"]
    example = renderer(smollm2_tokenizer, "chatml").tokenize(messages)
    trained = [tok for tok, label in zip(example.input_ids, example.labels, strict=True) if label != IGNORE_INDEX]
    assert smollm2_tokenizer.decode(trained) == messages[-1]["content"] + "<|im_end|>"
    assert smollm2_tokenizer.decode(example.input_ids).startswith("<|im_start|>user\n" + messages[0]["content"])


ZH_FIELDS = TraceFields("用户问一周有几天。", "回答不会伤害任何人。", "benign", "从星期一到星期日，共七天。", "七天。")
ZH_TRACE = StructureSpec().render(ZH_FIELDS, "zh")
ZH_MESSAGES = [{"role": "user", "content": "一周有几天？"}, {"role": "assistant", "content": ZH_TRACE}]


def test_a_chinese_row_renders_in_its_own_markers(smollm2_tokenizer: Any) -> None:
    assert conversation_language(ZH_MESSAGES) == "zh"
    assert conversation_language(ZH_MESSAGES, "en") == "en"  # a row's language column wins
    chat = renderer(smollm2_tokenizer, "deepseek_r1_distill", "prompt_completion")
    assert chat.markers(ZH_MESSAGES).understanding_header == "问题理解："
    example = chat.tokenize(ZH_MESSAGES)
    trained = [tok for tok, label in zip(example.input_ids, example.labels, strict=True) if label != IGNORE_INDEX]
    completion = smollm2_tokenizer.decode(trained)
    assert completion == ZH_TRACE.removeprefix("<think>\n") + smollm2_tokenizer.eos_token  # the prefilled tag cut
    assert completion.startswith("问题理解：") and "判定：无害" in completion


def test_a_language_with_its_own_think_tags_is_cut_at_its_tags(smollm2_tokenizer: Any) -> None:
    spec = StructureSpec.model_validate({"languages": {"zh": {"think_open": "<思考>", "think_close": "</思考>",
                                                              "understanding_header": "问题理解："}}})
    trace = ZH_TRACE.replace("<think>", "<思考>").replace("</think>", "</思考>")
    chosen = resolve_template("chatml", smollm2_tokenizer)
    chat = ChatRenderer(smollm2_tokenizer, chosen, "prompt_completion", spec)
    prompt = chat.prompt_text(ZH_MESSAGES) + "<思考>\n"  # as a template that pre-fills the language's tag would
    assert chat.completion_text(prompt, trace, chat.markers(ZH_MESSAGES).think_open).startswith("问题理解：")
    assert chat.completion_text(prompt, trace).startswith("<思考>")  # the English tag would not be found
