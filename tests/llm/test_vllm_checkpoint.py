"""The vLLM backend as a model under test (marker ``vllm``; run in .venv-vllm): SmolLM2 base and with a LoRA
adapter, greedy, against the transformers backend on the same prompts.

    .venv-vllm/bin/python -m pytest -m vllm tests/llm/test_vllm_checkpoint.py -p no:cacheprovider
"""

import asyncio
import os
from pathlib import Path

import pytest

from alttrain.llm.cache import ResponseCache
from alttrain.llm.client import TeacherClient
from alttrain.llm.config import TeacherConfig, VLLMOptions
from alttrain.llm.types import SamplingParams, TeacherRequest, TeacherResponse

pytestmark = pytest.mark.vllm

GREEDY = SamplingParams(temperature=0.0, top_p=1.0, max_tokens=32, seed=0)
CPU = VLLMOptions(dtype="float32", max_model_len=1024, enforce_eager=True, cpu_kvcache_space_gib=1)
CHATS = [
    [{"role": "user", "content": "What is the capital of France?"}],
    [{"role": "user", "content": "Write one sentence about the sea."}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is two plus two?"}],
]


@pytest.fixture(scope="module", autouse=True)
def offline_vllm() -> None:
    os.environ.setdefault("VLLM_NO_USAGE_STATS", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def adapter(smollm2_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A rank-8 LoRA on every projection with small random weights: it moves the outputs, not into noise."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(str(smollm2_path), dtype=torch.float32)
    targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    model = get_peft_model(base, LoraConfig(r=8, lora_alpha=16, target_modules=targets, init_lora_weights=False))
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "lora_B" in name:
                parameter.mul_(0.05)
    path = tmp_path_factory.mktemp("adapter") / "adapter"
    model.save_pretrained(path)
    AutoTokenizer.from_pretrained(str(smollm2_path)).save_pretrained(path)
    return path


def answer(model: TeacherConfig, cache: ResponseCache | None) -> tuple[list[TeacherResponse], TeacherClient]:
    async def run() -> tuple[list, TeacherClient]:
        async with TeacherClient(model, cache) as client:
            return await client.complete_many([TeacherRequest(messages=c, sampling=GREEDY) for c in CHATS]), client

    return asyncio.run(run())


def checkpoint(backend: str, model: Path, adapter: Path | None) -> TeacherConfig:
    """The model under test as evaluation configures it (training's template: the tokenizer's own)."""
    return TeacherConfig(backend=backend, model=str(model), checkpoint={"adapter": adapter}, vllm=CPU,
                         transformers={"batch_size": 3, "threads": 1, "precision": "fp32"})


@pytest.fixture(scope="module")
def transformers_outputs(smollm2_path: Path, adapter: Path) -> dict[bool, list[TeacherResponse]]:
    """The transformers backend's greedy outputs, base (False) and with the adapter (True)."""
    return {tuned: answer(checkpoint("transformers", smollm2_path, adapter if tuned else None), None)[0]
            for tuned in (False, True)}


@pytest.mark.parametrize("tuned", [False, True], ids=["base", "lora"])
def test_vllm_greedy_outputs_agree_with_transformers(
    tuned: bool, smollm2_path: Path, adapter: Path, transformers_outputs: dict[bool, list], tmp_path: Path
) -> None:
    model, expected = checkpoint("vllm", smollm2_path, adapter if tuned else None), transformers_outputs[tuned]
    with ResponseCache(tmp_path / "cache.sqlite") as cache:
        got, client = answer(model, cache)
        assert client.identity.startswith(f"vllm:{smollm2_path}@") and ("+adapter@" in client.identity) == tuned
        again, client = answer(model, cache)
        assert again == got and client.stats.sent == 0  # answered from the cache alone
        assert client._backend is not None and not client._backend._engine.started
    assert all(isinstance(r, TeacherResponse) for r in got)
    assert [r.text for r in got] == [r.text for r in expected]
    assert [r.completion_tokens for r in got] == [r.completion_tokens for r in expected]
    assert [r.finish_reason for r in got] == [r.finish_reason for r in expected]


def test_the_adapter_changes_the_outputs(transformers_outputs: dict[bool, list]) -> None:
    base, tuned = transformers_outputs[False], transformers_outputs[True]
    assert sum(b.text != t.text for b, t in zip(base, tuned, strict=True)) >= 2  # the LoRA comparison means something
