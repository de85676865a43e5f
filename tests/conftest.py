"""Fixtures shared across test packages."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from alttrain.models.source import EMBEDDED_MODEL, resolve_model
from alttrain.training.config import TrainingConfig


@pytest.fixture(scope="session")
def smollm2_path() -> Path:
    """The SmolLM2-135M-Instruct checkpoint, converted from the embedded GGUF into the default cache once."""
    return Path(resolve_model(EMBEDDED_MODEL, TrainingConfig().cache_dir))


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
