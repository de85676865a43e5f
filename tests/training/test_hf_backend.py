from pathlib import Path
from typing import Any

import torch
from peft.tuners.tuners_utils import BaseTunerLayer

from alttrain.training.backends.hf_backend import load_model
from alttrain.training.config import TrainingConfig


def input_casts(model: Any) -> set[bool]:
    return {module.cast_input_dtype_enabled for module in model.modules() if isinstance(module, BaseTunerLayer)}


def one_autocast_step(model: Any, ids: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    model.zero_grad()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = model(input_ids=ids, labels=ids).loss
    loss.backward()
    return loss.detach(), {name: p.grad.clone() for name, p in model.named_parameters() if p.requires_grad}


def test_a_16bit_base_keeps_adapter_inputs_16bit_with_the_same_loss_and_gradients(tiny_model_path: Path) -> None:
    loaded = load_model(str(tiny_model_path), TrainingConfig(model=str(tiny_model_path), precision="bf16"), seed=0)
    assert loaded.precision == "bf16" and input_casts(loaded.model) == {False}
    with torch.no_grad():  # a trained-looking adapter: B nonzero, so A's gradients depend on the inputs
        for name, parameter in loaded.model.named_parameters():
            if "lora_B" in name:
                parameter.normal_(std=0.05, generator=torch.Generator().manual_seed(0))
    ids = torch.randint(0, 500, (2, 48), generator=torch.Generator().manual_seed(1))
    uncast_loss, uncast_grads = one_autocast_step(loaded.model, ids)

    for module in loaded.model.modules():
        if isinstance(module, BaseTunerLayer):
            module.cast_input_dtype_enabled = True  # PEFT's default: cast to fp32, autocast casts back
    cast_loss, cast_grads = one_autocast_step(loaded.model, ids)

    assert torch.equal(uncast_loss, cast_loss)
    assert uncast_grads.keys() == cast_grads.keys() and any("lora_A" in name for name in cast_grads)
    assert all(torch.equal(uncast_grads[name], cast_grads[name]) for name in cast_grads)
    assert all(grad.dtype == torch.float32 and grad.abs().sum() > 0 for grad in cast_grads.values())


def test_an_fp32_base_keeps_peft_input_casts(tiny_model_path: Path) -> None:
    loaded = load_model(str(tiny_model_path), TrainingConfig(model=str(tiny_model_path), precision="fp32"), seed=0)
    assert loaded.precision == "fp32" and input_casts(loaded.model) == {True}
