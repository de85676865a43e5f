"""Evaluation through vLLM (marker ``vllm``; run in .venv-vllm): SmolLM2 base and with a LoRA adapter, greedy,
against the transformers path on the same prompts.

    .venv-vllm/bin/python -m pytest -m vllm tests/evaluation/test_vllm_generation.py -p no:cacheprovider
"""

import os
from pathlib import Path

import pytest

from alttrain.config import parse_config
from alttrain.evaluation.config import ModelUnderTest
from alttrain.evaluation.generation import TransformersGenerator, VLLMGenerator
from alttrain.evaluation.run import make_generator
from alttrain.llm.cache import ResponseCache
from alttrain.llm.config import VLLMOptions
from alttrain.llm.types import SamplingParams

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


@pytest.fixture(scope="module")
def transformers_outputs(smollm2_path: Path, adapter: Path) -> dict[bool, list]:
    """The transformers path's greedy outputs, base (False) and with the adapter (True)."""
    return {tuned: TransformersGenerator("smollm2", str(smollm2_path), adapter if tuned else None, GREEDY, 3, None,
                                         threads=1, precision="fp32").generate(CHATS) for tuned in (False, True)}


def test_the_config_takes_a_vllm_model_with_engine_options(smollm2_path: Path, adapter: Path, tmp_path: Path) -> None:
    model = ModelUnderTest(backend="vllm", adapter=Path("model/adapter"), vllm={"enforce_eager": True})
    assert model.vllm_options.enforce_eager and ModelUnderTest(backend="vllm").vllm_options == VLLMOptions()
    with pytest.raises(ValueError, match="only read with backend 'vllm'"):
        ModelUnderTest(vllm={"enforce_eager": True})
    config = parse_config({"name": "vllm-eval", "prompts": {"sources": [{"kind": "harmbench", "n": 1}]},
                           "training": {"model": str(smollm2_path)}, "evaluation": {"baseline": "tuned", "models": {
        "tuned": {"backend": "vllm", "adapter": str(adapter), "vllm": CPU.model_dump(mode="json")}}}})
    with ResponseCache(tmp_path / "cache.sqlite") as cache:
        generator = make_generator(config.evaluation.models["tuned"], config, tmp_path, cache)
    assert isinstance(generator, VLLMGenerator) and "+adapter@" in generator.identity
    assert generator.key_options()["enforce_eager"] and generator.key_options()["enable_lora"]  # the engine's options


@pytest.mark.parametrize("tuned", [False, True], ids=["base", "lora"])
def test_vllm_greedy_outputs_agree_with_transformers(
    tuned: bool, smollm2_path: Path, adapter: Path, transformers_outputs: dict[bool, list], tmp_path: Path
) -> None:
    lora, expected = adapter if tuned else None, transformers_outputs[tuned]
    with ResponseCache(tmp_path / "cache.sqlite") as cache:
        vllm = VLLMGenerator("smollm2", str(smollm2_path), lora, GREEDY, cache, options=CPU)
        got = vllm.generate(CHATS)
        assert vllm.identity.startswith("vllm:smollm2@") and ("+adapter@" in vllm.identity) == tuned
        again = VLLMGenerator("smollm2", str(smollm2_path), lora, GREEDY, cache, options=CPU)
        assert again.generate(CHATS) == got and not again._engine.started  # answered from the cache alone
    assert [g.error for g in got] == [None] * 3
    assert [g.text for g in got] == [g.text for g in expected]
    assert [g.completion_tokens for g in got] == [g.completion_tokens for g in expected]
    assert [g.finish_reason for g in got] == [g.finish_reason for g in expected]


def test_the_adapter_changes_the_outputs(transformers_outputs: dict[bool, list]) -> None:
    base, tuned = transformers_outputs[False], transformers_outputs[True]
    assert sum(b.text != t.text for b, t in zip(base, tuned, strict=True)) >= 2  # the LoRA comparison means something
