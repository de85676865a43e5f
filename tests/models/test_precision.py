"""Precision: ``auto`` follows what the CPU computes natively; an explicit setting is used as asked."""

from pathlib import Path

import pytest

from alttrain.evaluation.config import EvaluationConfig
from alttrain.models.precision import cpu_has_native_bf16, resolve_precision
from alttrain.training.config import TrainingConfig


def cpuinfo_flags() -> set[str]:
    lines = Path("/proc/cpuinfo").read_text().splitlines()
    return set(next(line for line in lines if line.startswith("flags")).split(":", 1)[1].split())


def test_native_bf16_is_what_the_cpu_flags_say() -> None:
    assert cpu_has_native_bf16() == bool(cpuinfo_flags() & {"avx512_bf16", "amx_tile"})


def test_auto_on_cpu_is_bf16_exactly_where_it_is_native() -> None:
    assert resolve_precision("auto", "cpu") == ("bf16" if cpu_has_native_bf16() else "fp32")


@pytest.mark.parametrize("device", ["cpu", "cuda"])
@pytest.mark.parametrize("setting", ["fp32", "bf16"])
def test_an_explicit_precision_is_kept(setting: str, device: str) -> None:
    assert resolve_precision(setting, device) == setting  # type: ignore[arg-type]


def test_training_and_evaluation_take_a_precision() -> None:
    assert TrainingConfig(max_length=64).precision == EvaluationConfig().precision == "auto"
    assert TrainingConfig(max_length=64, precision="fp32").precision == "fp32"
    with pytest.raises(ValueError, match="precision"):
        EvaluationConfig(precision="int4")  # type: ignore[arg-type]
