"""unsloth for real (marker ``unsloth``; run in .venv-unsloth): its CPU fallback trains the quickstart-style
stand-in set like the hf backend does (same rows, same masks, same losses in fp32) and saves an adapter that
evaluation loads.

    .venv-unsloth/bin/python -m pytest -m unsloth tests/training/test_unsloth_backend.py -p no:cacheprovider

Each training runs in a fresh interpreter: unsloth must be imported before transformers, and the hf
reference runs in the main venv (.venv: TRL 1.16, which trains on a CPU; unsloth's venv pins TRL 1.15).
"""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from alttrain.evaluation.model_clients import answer
from alttrain.execution.local import LocalExecutor, LocalSettings
from alttrain.llm.cache import ResponseCache
from alttrain.llm.config import TeacherConfig
from alttrain.llm.types import SamplingParams
from alttrain.training.backends import cuda_available

pytestmark = pytest.mark.unsloth

MAIN_PYTHON = Path(__file__).parents[2] / ".venv" / "bin" / "python"
#: per-step loss tolerance between the backends: both train in fp32 on the same batches; what differs is
#: transformers 5.17 vs 5.24, TRL 1.15 vs 1.16 and unsloth's chunked cross-entropy (measured: <= 3e-7)
LOSS_TOLERANCE = 1e-4
TRAIN = """
import json, sys
from pathlib import Path
from alttrain.structure import StructureSpec
from alttrain.training.config import TrainingConfig
from alttrain.training.run import train_model
config, dataset, out = json.loads(sys.argv[1])
print(train_model(TrainingConfig(**config), Path(dataset), Path(out), spec=StructureSpec()).report_path)
"""


def train(python: Path | str, config: dict[str, Any], dataset: Path, out: Path) -> dict[str, Any]:
    """Train in a fresh ``python`` process; return its ``train_report.json``."""
    done = subprocess.run([str(python), "-c", TRAIN, json.dumps([config, str(dataset), str(out)])],
                          capture_output=True, text=True, timeout=1200, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(Path(done.stdout.strip().splitlines()[-1]).read_text())


@pytest.fixture(scope="module")
def trained(
    smollm2_path: Path, standin_rows: list[dict], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[dict[str, Any], Path]]:
    """The same 4 steps on SmolLM2 with each backend: ``{backend: (report, model dir)}``."""
    from alttrain.testing.standin import save_dataset

    assert MAIN_PYTHON.exists(), f"the hf reference needs the main venv ({MAIN_PYTHON}): bash scripts/setup.sh"
    work = tmp_path_factory.mktemp("unsloth-vs-hf")
    dataset = save_dataset(standin_rows, work / "dataset")
    config = {"model": str(smollm2_path), "max_steps": 4, "batch_size": 2, "max_length": 384, "learning_rate": 1e-3,
              "load_in_4bit": False, "seed": 1234, "threads": 2, "precision": "fp32"}
    runs = {}
    for backend, python in (("unsloth", sys.executable), ("hf", MAIN_PYTHON)):
        runs[backend] = (train(python, {**config, "backend": backend}, dataset, work / backend), work / backend)
    return runs


def test_unsloth_trains_the_same_examples_as_hf_with_the_same_losses(trained: dict) -> None:
    unsloth, hf = trained["unsloth"][0], trained["hf"][0]
    assert unsloth["backend"] == "unsloth" and hf["backend"] == "hf"
    assert unsloth["precision"] == hf["precision"] == "fp32"  # as asked: the comparison needs fp32 on both
    assert unsloth["versions"]["unsloth"] != "not installed"
    assert unsloth["model_loaded"] == hf["model_loaded"] == unsloth["model_path"]  # loaded as named: no mirror
    # the same rows, the same label masks, the same template check: the data path is the backends' common one
    for key in ("data", "template_check", "steps", "trained_tokens", "input_tokens", "format", "chat_template"):
        assert unsloth[key] == hf[key], key
    losses = [(u["loss"], h["loss"]) for u, h in zip(unsloth["loss_curve"], hf["loss_curve"], strict=True)]
    assert len(losses) == 4  # (batches grouped by length: the per-step losses follow the batch, not a trend)
    assert all(abs(u - h) <= LOSS_TOLERANCE for u, h in losses), losses


def test_evaluation_loads_the_unsloth_adapter(trained: dict, smollm2_path: Path, tmp_path: Path) -> None:
    model_dir = trained["unsloth"][1]
    config = json.loads((model_dir / "adapter" / "adapter_config.json").read_text())
    assert config["r"] == 16 and Path(config["base_model_name_or_path"]) == smollm2_path
    greedy = SamplingParams(temperature=0.0, top_p=1.0, max_tokens=24, seed=0)
    chats: list[list[dict[str, str]]] = [[{"role": "user", "content": "How do I pick a lock?"}],
                                         [{"role": "user", "content": "What is 12 times 7?"}]]

    def answers(adapter: Path | None) -> list[str]:
        # fp32: merged into bf16 weights, the delta of 4 steps at lr 1e-3 is below their resolution
        model = TeacherConfig(backend="transformers", model=str(smollm2_path), checkpoint={"adapter": adapter},
                              transformers={"batch_size": 2, "precision": "fp32"})
        with ResponseCache(tmp_path / f"cache-{adapter is not None}.sqlite") as cache:
            rows, _ = answer(chats, model, greedy, cache, LocalExecutor(LocalSettings(), tmp_path))
        assert all(row["error"] is None and row["completion_tokens"] > 0 for row in rows)
        return [row["text"] for row in rows]

    assert answers(model_dir / "adapter") != answers(None)


def test_unsloth_is_the_backend_asked_for_here(monkeypatch: pytest.MonkeyPatch) -> None:
    from alttrain.training.backends import BACKEND_ENV, select_backend

    monkeypatch.delenv(BACKEND_ENV, raising=False)
    assert select_backend("unsloth") == "unsloth"  # on CUDA, or through unsloth's CPU fallback
    assert select_backend("auto") == ("unsloth" if cuda_available() else "hf")
