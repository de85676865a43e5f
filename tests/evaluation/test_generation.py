"""Generation: transformers on a tiny random Llama (left-padded batches, the cache, adapter identity, a
template that pre-fills the think marker) and the teacher client against the fault server."""

from pathlib import Path

import pytest

from alttrain.evaluation.generation import TeacherGenerator, TransformersGenerator
from alttrain.llm.cache import ResponseCache
from alttrain.llm.types import SamplingParams
from alttrain.testing import FaultPlan, FaultServer, teacher_config

GREEDY = SamplingParams(temperature=0.0, top_p=1.0, max_tokens=12, seed=0)
CHATS = [
    [{"role": "user", "content": "Hi"}],
    [{"role": "user", "content": "A much longer question that needs many more tokens of left padding in a batch."}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is two plus two?"}],
]


def generator(model: Path, cache: ResponseCache | None, batch_size: int = 3, **options) -> TransformersGenerator:
    return TransformersGenerator("tiny", str(model), options.pop("adapter", None), GREEDY, batch_size, cache,
                                 threads=1, **options)


def test_batched_greedy_generation_matches_one_by_one(tiny_model_path: Path) -> None:
    batched = generator(tiny_model_path, None, precision="fp32").generate(CHATS)
    single = generator(tiny_model_path, None, batch_size=1, precision="fp32").generate(CHATS)
    assert [g.text for g in batched] == [g.text for g in single]  # left padding changes nothing
    assert all(0 < g.completion_tokens <= 12 and g.finish_reason in {"stop", "length"} for g in batched)
    assert all(g.error is None and g.reasoning is None for g in batched)


def test_the_precision_is_part_of_every_key(tiny_model_path: Path, tmp_path: Path) -> None:
    import torch

    with ResponseCache(tmp_path / "cache.sqlite") as cache:
        full = generator(tiny_model_path, cache, precision="fp32")
        full.generate(CHATS)
        half = generator(tiny_model_path, cache, precision="bf16")
        assert all(g.error is None for g in half.generate(CHATS))
        assert len(cache) == 6  # nothing answered in fp32 was reused for bf16
        assert half._loaded is not None and half._loaded[1].dtype == torch.bfloat16
        assert full._loaded is not None and full._loaded[1].dtype == torch.float32


def test_cached_answers_need_no_model(tiny_model_path: Path, tmp_path: Path) -> None:
    with ResponseCache(tmp_path / "cache.sqlite") as cache:
        first = generator(tiny_model_path, cache).generate(CHATS)
        assert len(cache) == 3
        again = generator(tiny_model_path, cache)
        assert again.generate(CHATS) == first
        assert again._loaded is None  # every answer came from the cache


def test_identity_follows_the_adapter_weights(tiny_model_path: Path, tmp_path: Path) -> None:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = get_peft_model(AutoModelForCausalLM.from_pretrained(str(tiny_model_path)),
                           LoraConfig(r=2, target_modules=["q_proj"], init_lora_weights=False))
    model.save_pretrained(tmp_path / "adapter")
    base = generator(tiny_model_path, None)
    tuned = generator(tiny_model_path, None, adapter=tmp_path / "adapter")
    assert base.identity.startswith("transformers:tiny@") and "+adapter@" in tuned.identity
    assert tuned.generate(CHATS[:1])[0].text != base.generate(CHATS[:1])[0].text
    with torch.no_grad():
        next(p for n, p in model.named_parameters() if "lora_B" in n).add_(1.0)
    model.save_pretrained(tmp_path / "adapter")
    assert generator(tiny_model_path, None, adapter=tmp_path / "adapter").identity != tuned.identity
    with pytest.raises(FileNotFoundError, match="no PEFT adapter here"):
        generator(tiny_model_path, None, adapter=tmp_path / "missing")


def test_prefilled_think_marker_is_put_back(tiny_model_path: Path) -> None:
    r1 = generator(tiny_model_path, None, chat_template="deepseek_r1_distill")
    assert r1.identity.endswith("~template:deepseek_r1_distill")  # another prompt format, other cache keys
    output = r1.generate(CHATS[:1])[0]
    assert output.text.startswith("<think>\n") and len(output.text) > len("<think>\n")


def test_teacher_generation_keeps_failures_as_row_errors(tmp_path: Path) -> None:
    chats = [[{"role": "user", "content": "What is 2 + 2?"}],
             [{"role": "user", "content": "[[fault:bad_request]] What is 3 + 3?"}]]
    with FaultServer(FaultPlan(reasoning_content="thinking aloud")) as server, \
            ResponseCache(tmp_path / "cache.sqlite") as cache:
        teacher = teacher_config(server.base_url, max_retries=1)
        answered, failed = TeacherGenerator(teacher, GREEDY, cache).generate(chats)
    assert answered.error is None and answered.text.startswith("<think>") and answered.reasoning == "thinking aloud"
    assert failed.text == "" and failed.error.startswith("PermanentTeacherError: HTTP 400")
    assert TeacherGenerator(teacher, GREEDY, None).identity == "openai:fault-teacher"
