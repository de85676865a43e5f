"""Fixtures shared across test packages."""

from pathlib import Path

import pytest

from alttrain.models.source import EMBEDDED_MODEL, resolve_model
from alttrain.training.config import TrainingConfig


@pytest.fixture(scope="session")
def smollm2_path() -> Path:
    """The SmolLM2-135M-Instruct checkpoint, converted from the embedded GGUF into the default cache once."""
    return Path(resolve_model(EMBEDDED_MODEL, TrainingConfig().cache_dir))
