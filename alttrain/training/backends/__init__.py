"""Training backends: unsloth (on a CUDA GPU, or its CPU fallback when asked for), transformers + PEFT + TRL.

Import order matters for unsloth: it patches transformers, TRL and PEFT when it is imported, so it
must be imported before any of them. Nothing in ``alttrain`` imports transformers, TRL or PEFT at
module import time (all such imports sit inside functions), and :func:`select_backend` decides the
backend without importing unsloth, so ``alttrain.training.run`` can import
:mod:`alttrain.training.backends.unsloth_backend` (whose first import is ``unsloth``) before anything
loads transformers. A test checks that importing the CLI loads none of them.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from typing import Any, Literal

from alttrain.errors import BackendError
from alttrain.training.config import BackendChoice, LoraSettings

BackendName = Literal["unsloth", "hf"]
BACKEND_ENV = "ALTTRAIN_TRAIN_BACKEND"
_CHOICES = ("auto", "unsloth", "hf")


@dataclass
class LoadedModel:
    """A model with its LoRA adapter attached, ready for the trainer.

    ``source`` is the checkpoint actually loaded: the configured path, or the mirror unsloth swapped in
    for it (``exact_model_name: false``).
    """

    backend: BackendName
    model: Any
    precision: str  # fp32 | bf16 | fp16, with "+4bit" for a QLoRA base
    device: str  # cpu | cuda
    source: str = ""


def cuda_available() -> bool:
    """Whether torch sees a CUDA device."""
    import torch

    return bool(torch.cuda.is_available())


def unsloth_installed() -> bool:
    """Whether unsloth is installed (found without importing it: its import patches transformers)."""
    return importlib.util.find_spec("unsloth") is not None


def select_backend(choice: BackendChoice) -> BackendName:
    """The backend to train with: ``ALTTRAIN_TRAIN_BACKEND`` if set, else ``choice``; ``auto`` resolved.

    ``auto`` picks unsloth only with CUDA; ``unsloth`` asked for by name also runs on a CPU, through
    unsloth's CPU fallback.

    Raises:
        BackendError: for an unknown override, or unsloth asked for where it is not installed.

    """
    override = os.environ.get(BACKEND_ENV, "").strip()
    if override:
        if override not in _CHOICES:
            raise BackendError(f"{BACKEND_ENV}={override!r}: expected one of {', '.join(_CHOICES)}")
        choice = override  # type: ignore[assignment]
    if choice == "auto":
        return "unsloth" if unsloth_installed() and cuda_available() else "hf"
    if choice == "unsloth" and not unsloth_installed():
        raise BackendError(
            "backend 'unsloth' needs the unsloth package, which is not installed here: pip install '.[gpu]' on a "
            "CUDA machine; on a CPU, bash scripts/setup_extras.sh unsloth and go on from .venv-unsloth "
            "(.venv-unsloth/bin/alttrain run skips the stages already done). Or use backend 'hf'."
        )
    return choice


def adapted_layers(settings: LoraSettings, num_layers: int) -> list[int] | None:
    """The decoder layers to adapt: the top ``settings.top_layers`` of ``num_layers`` (None: all of them)."""
    if settings.top_layers is None or settings.top_layers >= num_layers:
        return None
    return list(range(num_layers - settings.top_layers, num_layers))
