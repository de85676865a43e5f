import subprocess
import sys

import pytest

from alttrain.errors import BackendError
from alttrain.training.backends import BACKEND_ENV, cuda_available, select_backend, unsloth_installed


def test_auto_picks_hf_without_cuda_and_unsloth(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(BACKEND_ENV, raising=False)
    assert not (cuda_available() and unsloth_installed())  # this CPU machine
    assert select_backend("auto") == "hf"
    assert select_backend("hf") == "hf"


def test_unsloth_without_a_gpu_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(BACKEND_ENV, raising=False)
    with pytest.raises(BackendError, match="needs a CUDA GPU and the unsloth package"):
        select_backend("unsloth")


def test_environment_overrides_the_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BACKEND_ENV, "unsloth")
    with pytest.raises(BackendError, match="unsloth"):
        select_backend("hf")
    monkeypatch.setenv(BACKEND_ENV, "hf")
    assert select_backend("unsloth") == "hf"
    monkeypatch.setenv(BACKEND_ENV, "jax")
    with pytest.raises(BackendError, match=f"{BACKEND_ENV}='jax'"):
        select_backend("auto")


def test_importing_the_cli_and_the_stage_loads_no_transformers() -> None:
    # unsloth must be imported before transformers, TRL and PEFT: nothing may load them at import time.
    code = (
        "import sys, alttrain.cli, alttrain.pipeline, alttrain.training.run, alttrain.training.backends.hf_backend; "
        "print(sorted(m for m in ('transformers', 'trl', 'peft', 'unsloth') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
