"""Fixtures shared across test packages."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from alttrain.models.source import EMBEDDED_MODEL, resolve_model
from alttrain.testing.random_model import build_random_model
from alttrain.training.config import TrainingConfig


@pytest.fixture(scope="session")
def smollm2_path() -> Path:
    """The SmolLM2-135M-Instruct checkpoint, converted from the embedded GGUF into the default cache once."""
    return Path(resolve_model(EMBEDDED_MODEL, TrainingConfig().cache_dir))


@pytest.fixture(scope="session")
def tiny_chat_model(smollm2_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
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


@pytest.fixture(autouse=True)
def wide_console() -> Iterator[None]:
    """Lay in-process CLI output out for 200 columns whatever terminal the tests run in.

    The CLI's console takes its width from the terminal (or $COLUMNS) once, at import; tables and progress
    lines that a test reads must not depend on it. tests/test_cli.py checks narrow and wide terminals in
    subprocesses, where the real width applies.
    """
    from alttrain import cli

    width = cli.console.width
    cli.console.width = 200
    yield
    cli.console.width = width
