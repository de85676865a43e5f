"""The transformers + PEFT backend: LoRA on CPU, or on a GPU without unsloth, in the configured precision.

With a 16-bit base the adapter's weights stay fp32 (PEFT upcasts them) and the trainer runs the
forward pass under bf16/fp16 autocast: 16-bit matmuls, fp32 updates. The adapters then take their
16-bit inputs as they are: PEFT would cast each to fp32 and autocast would cast it straight back, an
exact round trip that costs a copy per adapted projection (``bench/train_gpu.py --cpu``, SmolLM2-135M,
4 x 384 tokens, bf16 on CPU: 1.04x trained tokens/s at 0.89x peak memory; the same loss).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alttrain.models.precision import resolve_precision, torch_dtype
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
    """Load the base model in the configured precision (``auto``: the device's fastest) and attach a fresh LoRA adapter.

    ``seed`` is already set process-wide by the caller; it is taken for the backends' common signature.
    """
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM

    device = "cuda" if cuda_available() else "cpu"
    precision = resolve_precision(config.precision, device)
    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch_dtype(precision)).to(device)
    model = get_peft_model(model, lora_config(config.lora, model.config.num_hidden_layers))
    if precision != "fp32":
        keep_adapter_inputs_16bit(model)
    return LoadedModel(backend="hf", model=model, precision=precision, device=device, source=model_path)


def keep_adapter_inputs_16bit(model: Any) -> None:
    """Let every LoRA layer of ``model`` pass its input on uncast; only for a model run under 16-bit autocast.

    Outside autocast a 16-bit input would meet the fp32 adapter weights and the matmul would fail.
    """
    from peft.tuners.tuners_utils import BaseTunerLayer

    for module in model.modules():
        if isinstance(module, BaseTunerLayer):
            module.cast_input_dtype_enabled = False


def save_merged(loaded: LoadedModel, tokenizer: Any, directory: Path) -> None:
    """Merge the adapter into the base weights (in the training precision) and save model + tokenizer."""
    merged = loaded.model.merge_and_unload()
    merged.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
