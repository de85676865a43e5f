"""The unsloth backend: QLoRA or 16-bit LoRA on a CUDA GPU, LoRA through unsloth's CPU fallback.

Import this module only after :func:`alttrain.training.backends.select_backend` chose unsloth and
before anything imports transformers, TRL or PEFT: its first statement imports unsloth, which patches
them (see the package docstring for how alttrain keeps that order).

The precision follows the config exactly as the hf backend's does
(:func:`alttrain.models.precision.resolve_precision`: ``auto`` is bf16 where the GPU or CPU computes it
natively). The model is loaded as named unless ``exact_model_name: false`` lets unsloth swap in one of
its mirrors; :attr:`LoadedModel.source` names what was loaded.

Padding-free batching is unsloth's own decision when the trainer is built: on a GPU it turns it on
unless ``SFTTrainer`` is handed an explicit ``data_collator`` (``unsloth/trainer.py``: ``blocked =
data_collator is not None or ...``), so the training stage passes none; on a CPU it always keeps padded
batches (SDPA there would attend across the flattened examples).
"""

# isort: skip_file
# unsloth must be the first import: it patches transformers, TRL and PEFT when imported.
import unsloth
from unsloth import FastLanguageModel

from pathlib import Path
from typing import Any

from alttrain.models.precision import resolve_precision, torch_dtype
from alttrain.training.backends import LoadedModel, adapted_layers, cuda_available
from alttrain.training.config import TrainingConfig

UNSLOTH_VERSION = getattr(unsloth, "__version__", "unknown")


def load_model(model_path: str, config: TrainingConfig, seed: int) -> LoadedModel:
    """Load the base model through unsloth (4-bit when ``load_in_4bit``) and attach a LoRA adapter."""
    device = "cuda" if cuda_available() else "cpu"
    precision = resolve_precision(config.precision, device)
    dtype = torch_dtype(precision)
    model, _ = FastLanguageModel.from_pretrained(
        model_name=model_path,
        max_seq_length=config.max_length,
        dtype=dtype,
        load_in_4bit=config.load_in_4bit,
        use_exact_model_name=config.exact_model_name,
    )
    source = str(getattr(model.config, "_name_or_path", "") or model_path)
    bits = "+4bit" if _in_4bit(model) else ""
    model = FastLanguageModel.get_peft_model(
        model,
        r=config.lora.r,
        lora_alpha=config.lora.alpha,
        lora_dropout=config.lora.dropout,
        target_modules=list(config.lora.target_modules),
        layers_to_transform=adapted_layers(config.lora, model.config.num_hidden_layers),
        bias="none",
        use_gradient_checkpointing="unsloth",
        random_state=seed,
    )
    return LoadedModel(backend="unsloth", model=model, precision=precision + bits, device=device, source=source)


def _in_4bit(model: Any) -> bool:
    """Whether the base weights were quantized to 4 bits (unsloth falls back to 16-bit where 4-bit cannot run)."""
    settings = getattr(model.config, "quantization_config", None)
    if isinstance(settings, dict):
        return bool(settings.get("load_in_4bit"))
    return bool(getattr(settings, "load_in_4bit", False))


def save_merged(loaded: LoadedModel, tokenizer: Any, directory: Path) -> None:
    """Merge the adapter into 16-bit weights with unsloth's saver (de-quantising a 4-bit base)."""
    loaded.model.save_pretrained_merged(str(directory), tokenizer, save_method="merged_16bit")
