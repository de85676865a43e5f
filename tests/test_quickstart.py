"""The README's main job end to end: `alttrain run` on configs/quickstart.yaml, then a resumed re-run.

Asserts on the outputs (files, counts adding up, a complete report), not on model quality.
"""

import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

pytestmark = pytest.mark.timeout(1800)  # the whole quickstart (~9-10 min on 2 cores) runs in one fixture
ROOT = Path(__file__).parent.parent
CLI = [sys.executable, "-m", "alttrain"]


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    run_dir = tmp_path_factory.mktemp("quickstart")
    done = subprocess.run(
        [*CLI, "run", "--config", str(ROOT / "configs" / "quickstart.yaml"), "--run-dir", str(run_dir)],
        capture_output=True, text=True, timeout=1500, cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return run_dir, done.stdout


def test_every_stage_wrote_its_files(quickstart: tuple[Path, str]) -> None:
    run_dir, _ = quickstart
    for name in ("config.yaml", "prompts.parquet", "synthesized.parquet", "cache.sqlite",
                 "teacher_probe/synthesized.parquet", "curated.parquet", "rejected.parquet",
                 "curation_report.json", "datasheet/DATASHEET.md", "datasheet/README.md", "dataset/train.jsonl",
                 "model/adapter/adapter_config.json", "model/train_report.json", "eval/report.md", "eval/report.json"):
        assert (run_dir / name).exists(), name


def test_counts_add_up_stage_to_stage(quickstart: tuple[Path, str]) -> None:
    run_dir, _ = quickstart
    prompts = pl.read_parquet(run_dir / "prompts.parquet")
    synthesized = pl.read_parquet(run_dir / "synthesized.parquet")
    curated = pl.read_parquet(run_dir / "curated.parquet")
    rejected = pl.read_parquet(run_dir / "rejected.parquet")
    assert synthesized.height == prompts.height == 270
    assert curated.height + rejected.height == synthesized.height
    assert set(curated["id"]).isdisjoint(rejected["id"])
    assert rejected["filter_reason"].null_count() == 0
    assert curated.height == 160
    assert curated.filter(pl.col("label") == "harmful").height == 80
    report = json.loads((run_dir / "curation_report.json").read_text())
    assert report["selected"] == curated.height
    train_rows = (run_dir / "dataset" / "train.jsonl").read_text().splitlines()
    assert len(train_rows) == curated.height
    training = json.loads((run_dir / "model" / "train_report.json").read_text())
    assert training["steps"] == 40


def test_report_compares_base_and_tuned(quickstart: tuple[Path, str]) -> None:
    run_dir, stdout = quickstart
    report = json.loads((run_dir / "eval" / "report.json").read_text())
    assert [m["name"] for m in report["models"]] == ["base", "tuned"]
    measured = {(m["model"], m["metric"]) for m in report["metrics"]}
    for model in ("base", "tuned"):
        for metric in ("structure_adherence", "refusal_rate", "harmful_rate", "accuracy"):
            assert (model, metric) in measured
    assert "structure_adherence" in (run_dir / "eval" / "report.md").read_text()
    probe = pl.read_parquet(run_dir / "teacher_probe" / "synthesized.parquet")
    assert f"/{probe.height} traces valid" in stdout
    assert "eval report:" in stdout


def test_rerun_skips_every_fresh_stage(quickstart: tuple[Path, str]) -> None:
    run_dir, _ = quickstart
    done = subprocess.run(
        [*CLI, "run", "--config", str(ROOT / "configs" / "quickstart.yaml"), "--run-dir", str(run_dir)],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert done.stdout.count("skipped: its outputs are fresh") == 7
