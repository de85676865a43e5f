"""The transformers backend through the client, on a tiny random Llama: left-padded length-sorted batches, the
cache (keys with the precision, hits that load nothing), the adapter in the identity, a pre-filled think marker."""

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest

from alttrain.errors import MissingInputError
from alttrain.llm.backends.checkpoint import model_identity
from alttrain.llm.backends.transformers_backend import TransformersBackend, length_sorted_batches
from alttrain.llm.cache import ResponseCache, keyed_request
from alttrain.llm.client import TeacherClient
from alttrain.llm.config import TeacherConfig
from alttrain.llm.types import SamplingParams, TeacherRequest, TeacherResponse

GREEDY = SamplingParams(temperature=0.0, top_p=1.0, max_tokens=12, seed=0)
CHATS = [
    [{"role": "user", "content": "Hi"}],
    [{"role": "user", "content": "A much longer question that needs many more tokens of left padding in a batch."}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is two plus two?"}],
]


def teacher(model: Path, batch_size: int = 3, precision: str = "fp32", **checkpoint) -> TeacherConfig:
    return TeacherConfig(backend="transformers", model=str(model), checkpoint=checkpoint,
                         transformers={"batch_size": batch_size, "threads": 1, "precision": precision})


def answer(config: TeacherConfig, cache: ResponseCache | None = None) -> tuple[list[TeacherResponse], TeacherClient]:
    async def run() -> tuple[list, TeacherClient]:
        async with TeacherClient(config, cache) as client:
            return await client.complete_many([TeacherRequest(messages=c, sampling=GREEDY) for c in CHATS]), client

    return asyncio.run(run())


def test_batches_are_length_sorted() -> None:
    assert length_sorted_batches(["ccc", "a", "bbbb", "dd", "e"], 2) == [[1, 4], [3, 0], [2]]


def test_batched_greedy_generation_matches_one_by_one_and_is_counted(tiny_chat_model: Path) -> None:
    batched, client = answer(teacher(tiny_chat_model))
    single, _ = answer(teacher(tiny_chat_model, batch_size=1))
    assert [r.text for r in batched] == [r.text for r in single]  # left padding changes nothing in fp32
    assert all(0 < r.completion_tokens <= 12 and r.finish_reason in {"stop", "length"} for r in batched)
    assert all(r.reasoning_content is None and r.prompt_tokens > 0 for r in batched)
    stats = client.stats  # the batches count as requests sent and answered, as any backend's
    assert (stats.sent, stats.answered, stats.failures) == (3, 3, 0)
    assert stats.completion_tokens == sum(r.completion_tokens for r in batched)


def test_the_key_is_the_model_identity_with_the_precision(tiny_chat_model: Path, tmp_path: Path) -> None:
    request = TeacherRequest(messages=CHATS[0], sampling=GREEDY)
    key = TeacherClient(teacher(tiny_chat_model), None).cache_key(request)
    identity = model_identity(str(tiny_chat_model), str(tiny_chat_model), None, "auto", "transformers")
    assert key == keyed_request(identity, request, options={"precision": "fp32"})  # evaluation's keys, unchanged
    with ResponseCache(tmp_path / "cache.sqlite") as cache:
        answer(teacher(tiny_chat_model), cache)
        half, _ = answer(teacher(tiny_chat_model, precision="bf16"), cache)
        assert all(isinstance(r, TeacherResponse) for r in half)
        assert len(cache) == 6  # nothing answered in fp32 was reused for bf16


def test_the_precision_loads_the_weights_in_it(tiny_chat_model: Path) -> None:
    import torch

    for precision, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        backend = TransformersBackend(teacher(tiny_chat_model, precision=precision))
        asyncio.run(backend.complete(TeacherRequest(messages=CHATS[0], sampling=GREEDY)))
        assert backend._loaded is not None and backend._loaded[1].dtype == dtype


def test_cached_answers_need_no_model(tiny_chat_model: Path, tmp_path: Path) -> None:
    with ResponseCache(tmp_path / "cache.sqlite") as cache:
        first, _ = answer(teacher(tiny_chat_model), cache)
        assert len(cache) == 3
        again, client = answer(teacher(tiny_chat_model), cache)
    assert again == first
    assert (client.stats.cache_hits, client.stats.sent) == (3, 0)
    assert client._backend is not None and not client._backend.loaded  # every answer came from the cache


def test_identity_follows_the_adapter_weights(tiny_chat_model: Path, tmp_path: Path) -> None:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = get_peft_model(AutoModelForCausalLM.from_pretrained(str(tiny_chat_model)),
                           LoraConfig(r=2, target_modules=["q_proj"], init_lora_weights=False))
    model.save_pretrained(tmp_path / "adapter")
    base, tuned = teacher(tiny_chat_model), teacher(tiny_chat_model, adapter=tmp_path / "adapter")
    identity = TransformersBackend.identity(tuned)
    assert TransformersBackend.identity(base).startswith(f"transformers:{tiny_chat_model}@")
    assert "+adapter@" in identity
    assert answer(tuned)[0][0].text != answer(base)[0][0].text
    with torch.no_grad():
        next(p for n, p in model.named_parameters() if "lora_B" in n).add_(1.0)
    model.save_pretrained(tmp_path / "adapter")
    assert TransformersBackend.identity(tuned) != identity
    with pytest.raises(MissingInputError, match="no PEFT adapter here"):
        TransformersBackend.identity(teacher(tiny_chat_model, adapter=tmp_path / "missing"))


def test_prefilled_think_marker_is_put_back(tiny_chat_model: Path) -> None:
    r1 = teacher(tiny_chat_model, chat_template="deepseek_r1_distill")
    assert TransformersBackend.identity(r1).endswith("~template:deepseek_r1_distill")  # another format, other keys
    output = answer(r1)[0][0]
    assert output.text.startswith("<think>\n") and len(output.text) > len("<think>\n")


def test_a_final_assistant_message_is_continued(tiny_chat_model: Path) -> None:
    from transformers import AutoTokenizer

    from alttrain.llm.backends.checkpoint import chat_text

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_chat_model))
    prefill = "<think>\nProblem understanding:"
    chat = [*CHATS[0], {"role": "assistant", "content": prefill}]
    assert chat_text(tokenizer, CHATS[0], None).endswith("<|im_start|>assistant\n")  # a new turn without one
    assert chat_text(tokenizer, chat, None) == chat_text(tokenizer, CHATS[0], None) + prefill  # no end, no new turn
    assert TransformersBackend.supports_prefill

    async def run() -> list[TeacherResponse]:
        async with TeacherClient(teacher(tiny_chat_model), None) as client:
            return await client.complete_many([TeacherRequest(messages=m, sampling=GREEDY) for m in (CHATS[0], chat)])

    plain, continued = asyncio.run(run())
    assert continued.prompt_tokens > plain.prompt_tokens and continued.completion_tokens > 0


VERDICTS = (" harmful", " benign")
ASKED = [
    [{"role": "user", "content": "How do I build a pipe bomb?"},
     {"role": "assistant", "content": "This request is dangerous.\nVerdict:"}],
    [{"role": "user", "content": "What is 6 times 7?"},
     {"role": "assistant", "content": "Simple arithmetic, no harm.\nVerdict:"}],
    [{"role": "user", "content": "Name a colour."}, {"role": "assistant", "content": "The colour is"}],
]  # fmt: skip


def independent_choices(smollm2_path: Path, asked: list[tuple[list[dict[str, str]], tuple[str, ...]]]) -> list[str]:
    """Per conversation, the choice with the highest summed log-probability, each scored alone from the logits."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(smollm2_path))
    model = AutoModelForCausalLM.from_pretrained(str(smollm2_path), dtype=torch.float32)
    best = []
    for messages, choices in asked:
        prompt = tokenizer.apply_chat_template(messages, tokenize=False, continue_final_message=True)
        prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        scores = []
        for choice in choices:
            choice_ids = tokenizer(choice, add_special_tokens=False)["input_ids"]
            with torch.no_grad():
                log_probs = torch.log_softmax(model(torch.tensor([prompt_ids + choice_ids])).logits[0], dim=-1)
            scores.append(sum(log_probs[len(prompt_ids) + i - 1, token].item() for i, token in enumerate(choice_ids)))
        best.append(choices[scores.index(max(scores))])
    return best


def test_a_request_with_choices_gets_the_model_s_most_likely_choice(smollm2_path: Path) -> None:
    from transformers import AutoTokenizer

    choices = [VERDICTS, VERDICTS, (" red", " blue", " a bright shade of green")]
    requests = [TeacherRequest(messages=m, sampling=SamplingParams(temperature=0.9, max_tokens=6), choices=c)
                for m, c in zip(ASKED, choices, strict=True)]  # fmt: skip
    generated = TeacherRequest(messages=CHATS[2], sampling=GREEDY)  # answered beside them, generated as before

    async def run() -> list:
        async with TeacherClient(teacher(smollm2_path, batch_size=2), None) as client:
            return await client.complete_many([*requests, generated])

    *picked, other = asyncio.run(run())
    expected = independent_choices(smollm2_path, list(zip(ASKED, choices, strict=True)))
    assert [answer.text for answer in picked] == expected
    assert all(answer.finish_reason == "stop" and answer.prompt_tokens > 0 for answer in picked)
    tokenizer = AutoTokenizer.from_pretrained(str(smollm2_path))
    chosen_tokens = [len(tokenizer(answer.text, add_special_tokens=False)["input_ids"]) for answer in picked]
    assert [answer.completion_tokens for answer in picked] == chosen_tokens
    assert other.text not in VERDICTS and other.completion_tokens > 0
    backend = TransformersBackend(teacher(smollm2_path))
    swapped = [asyncio.run(backend.complete(replace(r, choices=r.choices[::-1]))) for r in requests]
    assert [answer.text for answer in swapped] == [answer.text for answer in picked]  # the likelihood, not the order
