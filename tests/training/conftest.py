"""Shared fixtures: the real SmolLM2 checkpoint (converted once, cached), a tiny random Llama, stand-in data."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from alttrain.testing.random_model import build_random_model
from alttrain.testing.standin import save_dataset, standin_records


@pytest.fixture(scope="session")
def smollm2_tokenizer(smollm2_path: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(smollm2_path))


@pytest.fixture(scope="session")
def standin_rows() -> list[dict[str, Any]]:
    """Six harmful prompts with refusal traces, then six gsm_symbolic problems with worked solutions."""
    return standin_records(harmful=6, benign=6, seed=0)


@pytest.fixture(scope="session")
def tiny_model_path(
    smollm2_path: Path, standin_rows: list[dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A 2-layer random Llama with SmolLM2's tokenizer (and chat template) retrained to 512 tokens."""
    corpus = [row["prompt"] + "\n" + row["trace"] for row in standin_rows]
    return build_random_model(tmp_path_factory.mktemp("tiny") / "model", smollm2_path, vocab_corpus=corpus)


@pytest.fixture
def save_rows(tmp_path: Path) -> Callable[[list[dict[str, Any]]], Path]:
    """Save rows as ``RUN/dataset/hf`` under a fresh run directory; return the dataset directory."""

    def save(rows: list[dict[str, Any]]) -> Path:
        return save_dataset(rows, tmp_path / "run" / "dataset" / "hf")

    return save
