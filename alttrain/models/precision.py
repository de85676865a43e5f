"""The floating-point precision a model trains or generates in on this machine.

``auto`` picks the fastest precision the hardware computes natively: bf16 on a CUDA GPU that computes
it (fp16 on one that does not), bf16 on a CPU with AVX512-BF16 or AMX (its bf16 matmuls run several
times faster than fp32 ones), fp32 on any other CPU. An explicit ``fp32`` or ``bf16`` is used as asked.
"""

from __future__ import annotations

from typing import Literal

Precision = Literal["auto", "fp32", "bf16"]
PRECISION_HELP = "auto (bf16 where the GPU or CPU computes it natively, else fp32 on CPU), fp32 or bf16"


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 in hardware (AVX512-BF16 or AMX tiles), as torch reports it."""
    import torch

    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")  # private, so looked up defensively
    return any(bool(getattr(torch.cpu, probe, lambda: False)()) for probe in probes)


def resolve_precision(setting: Precision, device: str) -> str:
    """The precision (``fp32``, ``bf16`` or ``fp16``) that ``setting`` means on ``device`` (cpu | cuda)."""
    if setting != "auto":
        return setting
    if device == "cuda":
        import torch

        return "bf16" if torch.cuda.is_bf16_supported(including_emulation=False) else "fp16"  # native only
    return "bf16" if cpu_has_native_bf16() else "fp32"


def torch_dtype(precision: str) -> object:
    """The torch dtype of a resolved precision name."""
    import torch

    return {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[precision]
