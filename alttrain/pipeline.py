"""The whole loop in order, resumable: a stage is skipped when its outputs exist and its inputs are unchanged.

Each stage has a fingerprint: a hash of the config sections that shape its output and of the files it
reads (their size and modification time). A finished stage leaves ``RUN/.stages/<name>.json`` with that
fingerprint; the next ``run`` skips the stage while the fingerprint and every output are still there.
A stage run alone (``alttrain curate ...``) changes its outputs, so the stages after it run again.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alttrain.config import RunConfig
from alttrain.layout import (
    CURATED_FILE,
    CURATION_REPORT_FILE,
    DATASET_HF_DIR,
    DATASHEET_DIR,
    EVAL_DIR,
    MODEL_DIR,
    PROBE_DIR,
    PROMPTS_FILE,
    REJECTED_FILE,
    REVIEW_REPORT_FILE,
    REVIEWED_FILE,
    SYNTHESIZED_FILE,
)
from alttrain.stages import (
    run_curation,
    run_datasheet,
    run_evaluation,
    run_prompts,
    run_synthesis,
    run_teacher_probe,
    run_training,
)

STAMP_DIR = ".stages"


@dataclass(frozen=True)
class Stage:
    """One step of the loop: what shapes it, what it reads, what it writes, how to run it."""

    name: str
    sections: tuple[str, ...]  # RunConfig fields whose values shape the output
    inputs: tuple[str, ...]  # run-dir paths read (files or folders; absent ones count as absent)
    outputs: tuple[str, ...]  # run-dir paths written; all must exist for a skip
    run: Callable[[RunConfig, Path], Any]
    enabled: Callable[[RunConfig], bool] = lambda config: True


STAGES: tuple[Stage, ...] = (
    Stage("prompts", ("seed", "prompts"), (), (PROMPTS_FILE,), run_prompts),
    Stage(
        "synthesize",
        ("structure", "synthesis"),
        (PROMPTS_FILE,),
        (SYNTHESIZED_FILE,),
        lambda config, run_dir: run_synthesis(config, run_dir, progress=True),
    ),
    Stage(
        "teacher_probe",
        ("seed", "structure", "synthesis"),
        (PROMPTS_FILE,),
        (f"{PROBE_DIR}/{SYNTHESIZED_FILE}",),
        run_teacher_probe,
        enabled=lambda config: config.synthesis.probe is not None,
    ),
    Stage(
        "curate",
        ("seed", "structure", "curation"),
        (SYNTHESIZED_FILE,),
        (CURATED_FILE, REJECTED_FILE, CURATION_REPORT_FILE),
        run_curation,
    ),
    Stage(
        "datasheet",
        ("structure", "prompts", "synthesis", "curation", "review", "datasheet"),
        (PROMPTS_FILE, SYNTHESIZED_FILE, CURATED_FILE, REJECTED_FILE,
         CURATION_REPORT_FILE, REVIEWED_FILE, REVIEW_REPORT_FILE),
        (f"{DATASHEET_DIR}/DATASHEET.md", f"{DATASHEET_DIR}/README.md", str(DATASET_HF_DIR)),
        run_datasheet,
    ),
    Stage("train", ("seed", "structure", "training"), (str(DATASET_HF_DIR),), (f"{MODEL_DIR}/adapter",), run_training),
    Stage(
        "eval",
        ("seed", "structure", "training", "evaluation"),
        (str(DATASET_HF_DIR), f"{MODEL_DIR}/adapter"),
        (f"{EVAL_DIR}/report.md", f"{EVAL_DIR}/report.json"),
        run_evaluation,
    ),
)


def _files(path: Path) -> Iterator[Path]:
    """Every file at or under ``path`` in a stable order."""
    if path.is_file():
        yield path
    elif path.is_dir():
        yield from sorted(p for p in path.rglob("*") if p.is_file())


def stage_fingerprint(stage: Stage, config: RunConfig, run_dir: Path) -> str:
    """Hash the stage's config sections and the size and mtime of every file it reads."""
    sections = {name: config.model_dump(mode="json")[name] for name in stage.sections}
    files = [
        (str(path.relative_to(run_dir)), path.stat().st_size, path.stat().st_mtime_ns)
        for name in stage.inputs
        for path in _files(run_dir / name)
    ]
    payload = json.dumps({"stage": stage.name, "sections": sections, "files": files}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _stamp_path(run_dir: Path, stage: Stage) -> Path:
    return run_dir / STAMP_DIR / f"{stage.name}.json"


def is_fresh(stage: Stage, config: RunConfig, run_dir: Path) -> bool:
    """Whether the stage's outputs exist and were made from the same config and inputs."""
    stamp = _stamp_path(run_dir, stage)
    if not stamp.exists() or not all((run_dir / out).exists() for out in stage.outputs):
        return False
    return json.loads(stamp.read_text()).get("fingerprint") == stage_fingerprint(stage, config, run_dir)


@dataclass(frozen=True)
class StageOutcome:
    """What happened to one stage in a run: skipped (fresh) or run, with its wall time and result."""

    name: str
    skipped: bool
    seconds: float
    result: Any = None


def run_stage(stage: Stage, config: RunConfig, run_dir: Path, *, force: bool = False) -> StageOutcome:
    """Run one stage unless it is fresh; stamp it when it finishes."""
    if not force and is_fresh(stage, config, run_dir):
        return StageOutcome(stage.name, skipped=True, seconds=0.0)
    start = time.perf_counter()
    result = stage.run(config, run_dir)
    seconds = time.perf_counter() - start
    stamp = _stamp_path(run_dir, stage)
    stamp.parent.mkdir(parents=True, exist_ok=True)
    fingerprint = stage_fingerprint(stage, config, run_dir)
    stamp.write_text(json.dumps({"fingerprint": fingerprint, "seconds": round(seconds, 2)}))
    return StageOutcome(stage.name, skipped=False, seconds=seconds, result=result)


def run_pipeline(
    config: RunConfig | str | Path, run_dir: str | Path | None = None, *, force: bool = False
) -> list[StageOutcome]:
    """Run every enabled stage in order (no human review), skipping fresh ones; the notebook entry point.

    Args:
        config: a :class:`RunConfig` or the path of a YAML config.
        run_dir: the run directory (default: ``runs/<config name>``).
        force: run every stage even when its outputs are fresh.

    """
    from alttrain.config import load_config, write_resolved

    config = config if isinstance(config, RunConfig) else load_config(Path(config))
    directory = Path(run_dir) if run_dir is not None else Path("runs") / config.name
    write_resolved(config, directory)
    return [run_stage(stage, config, directory, force=force) for stage in STAGES if stage.enabled(config)]
