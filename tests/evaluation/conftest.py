"""Shared fixtures: a tiny random Llama (the SmolLM2 checkpoint comes from tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from alttrain.testing.random_model import build_random_model


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
