"""The whole loop in order, resumable: a stage is skipped when its outputs were made from what it would read now.

:data:`STAGES` is the one list of stages (see :mod:`alttrain.stage` for the contract); ``alttrain run``,
the stage commands and :func:`run_pipeline` all iterate it. Each stage runs with its view of the run
config (:meth:`~alttrain.config.RunConfig.view`); its fingerprint is a hash of that view and of the
content (SHA-256) of the files it reads. Every finished stage,
whether ``run`` ran it or its own command did, leaves ``RUN/.stages/<name>.json`` with the fingerprint
taken before it ran; a stage is fresh while that fingerprint and every output are still there. So a
stage re-run alone that writes the same bytes again (``alttrain curate`` on unchanged inputs) leaves the
stages after it fresh: only a change of content or config runs them again.
"""

from __future__ import annotations

import ctypes
import gc
import hashlib
import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
from rich.console import Console

from alttrain.config import RunConfig, load_config, write_resolved
from alttrain.curation.review.stage import REVIEW_STAGE
from alttrain.curation.stage import CURATION_STAGE
from alttrain.datasheets.stage import DATASHEET_STAGE
from alttrain.errors import SchemaError
from alttrain.evaluation.stage import EVALUATION_STAGE
from alttrain.layout import CURATED_FILE, PROMPTS_FILE, REJECTED_FILE, STAMP_DIR, SYNTHESIZED_FILE
from alttrain.records import check_schema
from alttrain.sources.stage import PROMPTS_STAGE
from alttrain.stage import Stage, StageContext, StageView
from alttrain.synthesis.probe import PROBE_STAGE
from alttrain.synthesis.stage import SYNTHESIS_STAGE
from alttrain.training.stage import TRAINING_STAGE

STAGES: tuple[Stage[Any, Any], ...] = (
    PROMPTS_STAGE,
    SYNTHESIS_STAGE,
    PROBE_STAGE,
    CURATION_STAGE,
    REVIEW_STAGE,
    DATASHEET_STAGE,
    TRAINING_STAGE,
    EVALUATION_STAGE,
)


def stage_named(name: str) -> Stage[Any, Any]:
    """The stage called ``name``.

    Raises:
        KeyError: naming the stages there are.

    """
    for stage in STAGES:
        if stage.name == name:
            return stage
    raise KeyError(f"no stage {name!r}; stages: {', '.join(stage.name for stage in STAGES)}")


def selected_stages(config: RunConfig, *, optional: frozenset[str] = frozenset()) -> list[Stage[Any, Any]]:
    """The stages a run goes through: every enabled stage, optional ones only when named in ``optional``."""
    return [s for s in STAGES if s.enabled(config.view(s.view)) and (not s.optional or s.name in optional)]


def _files(path: Path) -> Iterator[Path]:
    """Every file at or under ``path`` in a stable order."""
    if path.is_file():
        yield path
    elif path.is_dir():
        yield from sorted(p for p in path.rglob("*") if p.is_file())


def file_digest(path: Path) -> str:
    """SHA-256 of a file's content, in hex."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def stage_fingerprint(stage: Stage[Any, Any], view: StageView, run_dir: Path) -> str:
    """Hash the stage's view of the config and the content of every file it reads (not their times)."""
    sections = view.model_dump(mode="json")
    files = [(path.relative_to(run_dir).as_posix(), file_digest(path))
             for name in stage.inputs for path in _files(run_dir / name)]
    payload = json.dumps({"stage": stage.name, "sections": sections, "files": files}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _stamp_path(run_dir: Path, stage: Stage[Any, Any]) -> Path:
    return run_dir / STAMP_DIR / f"{stage.name}.json"


#: record files and their schema: an output made before the record schema changed is stale, not fresh
RECORD_FILES = {PROMPTS_FILE: "prompts", SYNTHESIZED_FILE: "synthesized", CURATED_FILE: "curated",
                REJECTED_FILE: "rejected"}  # fmt: skip


def _records_conform(run_dir: Path, outputs: tuple[str, ...]) -> bool:
    """Whether every record file among ``outputs`` has its stage's current schema (columns and types)."""
    for name in outputs:
        if name in RECORD_FILES:
            try:
                check_schema(pl.read_parquet(run_dir / name, n_rows=0), RECORD_FILES[name], name)
            except (SchemaError, pl.exceptions.PolarsError, OSError):
                return False
    return True


def is_fresh(stage: Stage[Any, Any], config: RunConfig, run_dir: Path) -> bool:
    """Whether the stage's outputs exist, in the current record schema, made from the same view and input content.

    A release that adds a record column so re-runs the stages that write it, and the stages after them only
    where a file they read changed.
    """
    stamp = _stamp_path(run_dir, stage)
    if not stamp.exists() or not all((run_dir / out).exists() for out in stage.outputs):
        return False
    if not _records_conform(run_dir, stage.outputs):
        return False
    fingerprint = stage_fingerprint(stage, config.view(stage.view), run_dir)
    return json.loads(stamp.read_text()).get("fingerprint") == fingerprint


@dataclass(frozen=True)
class StageOutcome:
    """What happened to one stage in a run: skipped (fresh) or run, with its wall time and result."""

    name: str
    skipped: bool
    seconds: float
    result: Any = None


def release_memory() -> None:
    """Collect garbage and hand freed heap pages back to the OS (glibc keeps them otherwise).

    A stage that trained a model leaves hundreds of MB of freed activations in the allocator; without
    this, the next stage's peak resident memory starts from the last one's.
    """
    gc.collect()
    if sys.platform.startswith("linux"):
        with suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6").malloc_trim(0)


def run_stage(
    stage: Stage[Any, Any],
    config: RunConfig,
    run_dir: Path,
    *,
    console: Console | None = None,
    flags: frozenset[str] = frozenset(),
    pause: Callable[[str], object] = input,
    force: bool = False,
) -> StageOutcome:
    """Run one stage on its view of ``config`` unless it is fresh (or ``force``); stamp it with what it read.

    The fingerprint is taken before the stage runs (what its outputs are made from), and the old stamp is
    removed first, so a stage that fails halfway never passes for fresh. A stage that leaves an output
    missing (``synthesize --export`` while requests wait for `vllm run-batch`) is not stamped. ``console``,
    ``flags`` and ``pause`` go to the stage's :class:`~alttrain.stage.StageContext`.
    """
    if not force and is_fresh(stage, config, run_dir):
        return StageOutcome(stage.name, skipped=True, seconds=0.0)
    view = config.view(stage.view)
    fingerprint = stage_fingerprint(stage, view, run_dir)
    stamp = _stamp_path(run_dir, stage)
    stamp.unlink(missing_ok=True)
    start = time.perf_counter()
    result = stage.run(StageContext(view, run_dir, console, flags, pause))
    release_memory()
    seconds = time.perf_counter() - start
    if all((run_dir / out).exists() for out in stage.outputs):
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.write_text(json.dumps({"fingerprint": fingerprint, "seconds": round(seconds, 2)}))
    return StageOutcome(stage.name, skipped=False, seconds=seconds, result=result)


def run_pipeline(
    config: RunConfig | str | Path,
    run_dir: str | Path | None = None,
    *,
    force: bool = False,
    review: bool = False,
    console: Console | None = None,
) -> list[StageOutcome]:
    """Run every enabled stage in order, skipping fresh ones; the notebook entry point.

    Args:
        config: a :class:`RunConfig` or the path of a YAML config.
        run_dir: the run directory (default: ``runs/<config name>``).
        force: run every stage even when its outputs are fresh.
        review: include the human review round (it waits on ``input()`` for the reviewer).
        console: where progress goes (default: nowhere).

    """
    config = config if isinstance(config, RunConfig) else load_config(config)
    directory = Path(run_dir) if run_dir is not None else Path("runs") / config.name
    write_resolved(config, directory)
    stages = selected_stages(config, optional=frozenset({"review"}) if review else frozenset())
    return [run_stage(stage, config, directory, console=console, force=force) for stage in stages]
