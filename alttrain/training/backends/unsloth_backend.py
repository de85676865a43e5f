"""The unsloth backend: 4-bit QLoRA or 16-bit LoRA on one CUDA GPU with unsloth's gradient checkpointing.

Import this module only after :func:`alttrain.training.backends.select_backend` chose unsloth and
before anything imports transformers, TRL or PEFT: its first statement imports unsloth, which patches
them (see the package docstring for how alttrain keeps that order).
"""

# isort: skip_file
# unsloth must be the first import: it patches transformers, TRL and PEFT when imported.
import unsloth
from unsloth import FastLanguageModel, is_bf16_supported

from pathlib import Path
from typing import Any

from alttrain.training.backends import LoadedModel
from alttrain.training.config import TrainingConfig

UNSLOTH_VERSION = getattr(unsloth, "__version__", "unknown")


def load_model(model_path: str, config: TrainingConfig, seed: int) -> LoadedModel:
    """Load the base model through unsloth (4-bit when ``load_in_4bit``) and attach a LoRA adapter."""
    model, _ = FastLanguageModel.from_pretrained(
        model_name=model_path, max_seq_length=config.max_length, dtype=None, load_in_4bit=config.load_in_4bit
    )
    model = FastLanguageModel.get_peft_model(
        model,
        r=config.lora.r,
        lora_alpha=config.lora.alpha,
        lora_dropout=config.lora.dropout,
        target_modules=list(config.lora.target_modules),
        bias="none",
        use_gradient_checkpointing="unsloth",
        random_state=seed,
    )
    precision = ("bf16" if is_bf16_supported() else "fp16") + ("+4bit" if config.load_in_4bit else "")
    return LoadedModel(backend="unsloth", model=model, precision=precision, device="cuda")


def save_merged(loaded: LoadedModel, tokenizer: Any, directory: Path) -> None:
    """Merge the adapter into 16-bit weights with unsloth's saver (de-quantising a 4-bit base)."""
    loaded.model.save_pretrained_merged(str(directory), tokenizer, save_method="merged_16bit")
