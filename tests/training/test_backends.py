"""Backend choice, asserted for the machine the tests run on: CPU-only CI asserts the hf path (and, with
``ALTTRAIN_EXPECT_CUDA`` set, that it is the machine CI expects); a GPU machine with unsloth asserts unsloth.
Nothing is skipped: each test checks the branch this machine takes."""

import os
import subprocess
import sys

import pytest

from alttrain.errors import BackendError
from alttrain.training.backends import BACKEND_ENV, cuda_available, select_backend, unsloth_installed

EXPECT_CUDA = "ALTTRAIN_EXPECT_CUDA"  # CI sets 0: a CI machine that grew a GPU must not switch branches unnoticed


def test_the_machine_is_the_one_expected() -> None:
    expected = os.environ.get(EXPECT_CUDA)
    if expected is not None:
        assert cuda_available() == (expected == "1"), f"{EXPECT_CUDA}={expected} but CUDA={cuda_available()}"


def test_auto_picks_unsloth_only_with_cuda_and_unsloth(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(BACKEND_ENV, raising=False)
    assert select_backend("auto") == ("unsloth" if cuda_available() and unsloth_installed() else "hf")
    assert select_backend("hf") == "hf"


def test_unsloth_by_name_runs_wherever_it_is_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(BACKEND_ENV, raising=False)
    if unsloth_installed():  # on CUDA, or through unsloth's CPU fallback
        assert select_backend("unsloth") == "unsloth"
    else:
        with pytest.raises(BackendError, match=r"needs the unsloth package.*setup_extras\.sh unsloth"):
            select_backend("unsloth")


def test_environment_overrides_the_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BACKEND_ENV, "hf")
    assert select_backend("unsloth") == "hf"
    monkeypatch.setenv(BACKEND_ENV, "unsloth")
    if unsloth_installed():
        assert select_backend("hf") == "unsloth"
    else:
        with pytest.raises(BackendError, match="unsloth"):
            select_backend("hf")
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
