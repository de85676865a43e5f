"""The transformers + PEFT backend: fp32 LoRA on CPU, bf16/fp16 LoRA on a GPU without unsloth."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alttrain.training.backends import LoadedModel, adapted_layers, cuda_available
from alttrain.training.config import LoraSettings, TrainingConfig


def lora_config(settings: LoraSettings, num_layers: int) -> Any:
    """A PEFT ``LoraConfig`` for causal-LM training from the config's LoRA section."""
    from peft import LoraConfig

    return LoraConfig(
        r=settings.r,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        target_modules=list(settings.target_modules),
        layers_to_transform=adapted_layers(settings, num_layers),
        bias="none",
        task_type="CAUSAL_LM",
    )


def load_model(model_path: str, config: TrainingConfig, seed: int) -> LoadedModel:
    """Load the base model in the precision its device trains in and attach a fresh LoRA adapter.

    ``seed`` is already set process-wide by the caller; it is taken for the backends' common signature.
    """
    import torch
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM

    device = "cuda" if cuda_available() else "cpu"
    precision = ("bf16" if torch.cuda.is_bf16_supported() else "fp16") if device == "cuda" else "fp32"
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[precision]
    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=dtype).to(device)
    model = get_peft_model(model, lora_config(config.lora, model.config.num_hidden_layers))
    return LoadedModel(backend="hf", model=model, precision=precision, device=device, source=model_path)


def save_merged(loaded: LoadedModel, tokenizer: Any, directory: Path) -> None:
    """Merge the adapter into the base weights (in the training precision) and save model + tokenizer."""
    merged = loaded.model.merge_and_unload()
    merged.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
