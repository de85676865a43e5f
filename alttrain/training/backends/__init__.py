"""Training backends: unsloth on a CUDA GPU, transformers + PEFT + TRL everywhere else.

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
from alttrain.training.config import BackendChoice

BackendName = Literal["unsloth", "hf"]
BACKEND_ENV = "ALTTRAIN_TRAIN_BACKEND"
_CHOICES = ("auto", "unsloth", "hf")


@dataclass
class LoadedModel:
    """A model with its LoRA adapter attached, ready for the trainer."""

    backend: BackendName
    model: Any
    precision: str  # fp32 | bf16 | fp16, with "+4bit" for a QLoRA base
    device: str  # cpu | cuda


def cuda_available() -> bool:
    """Whether torch sees a CUDA device."""
    import torch

    return bool(torch.cuda.is_available())


def unsloth_installed() -> bool:
    """Whether unsloth is installed (found without importing it: its import patches transformers)."""
    return importlib.util.find_spec("unsloth") is not None


def select_backend(choice: BackendChoice) -> BackendName:
    """The backend to train with: ``ALTTRAIN_TRAIN_BACKEND`` if set, else ``choice``; ``auto`` resolved.

    Raises:
        BackendError: for an unknown override, or unsloth asked for where it cannot run.

    """
    override = os.environ.get(BACKEND_ENV, "").strip()
    if override:
        if override not in _CHOICES:
            raise BackendError(f"{BACKEND_ENV}={override!r}: expected one of {', '.join(_CHOICES)}")
        choice = override  # type: ignore[assignment]
    usable = unsloth_installed() and cuda_available()
    if choice == "auto":
        return "unsloth" if usable else "hf"
    if choice == "unsloth" and not usable:
        raise BackendError(
            "backend 'unsloth' needs a CUDA GPU and the unsloth package (pip install '.[gpu]'); "
            f"found CUDA={cuda_available()}, unsloth={unsloth_installed()}. Use backend 'hf' on this machine."
        )
    return choice
