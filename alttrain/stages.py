"""The Python API: one function per stage, each reading the run directory and writing its own file."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from alttrain.config import RunConfig
from alttrain.layout import CACHE_FILE, DATASET_HF_DIR, MODEL_DIR, PROBE_DIR, PROMPTS_FILE, SYNTHESIZED_FILE
from alttrain.records import write_stage
from alttrain.synthesis.prompt_pool import SourceCount, build_prompt_pool

if TYPE_CHECKING:
    from alttrain.curation.review.pull import PullResult
    from alttrain.curation.review.push import PushResult
    from alttrain.curation.run import CurationResult
    from alttrain.datasheets.build import DatasheetResult
    from alttrain.evaluation.report import EvaluationResult
    from alttrain.training.run import TrainingResult


@dataclass(frozen=True)
class PromptsResult:
    """What the prompts stage wrote and counted."""

    path: Path
    rows: int
    sources: list[SourceCount]


def run_prompts(config: RunConfig, run_dir: Path) -> PromptsResult:
    """Build ``run_dir/prompts.parquet`` from the configured sources."""
    pool, summary = build_prompt_pool(config.prompts)
    path = run_dir / PROMPTS_FILE
    write_stage(pool, path, "prompts")
    return PromptsResult(path=path, rows=pool.height, sources=summary)


@dataclass(frozen=True)
class SynthesisResult:
    """What the synthesize stage wrote and counted (``ok + quarantined == rows``, one row per prompt)."""

    path: Path
    cache_path: Path
    rows: int
    ok: int
    quarantined: int
    reasons: dict[str, int]  # quarantine reason kind (the text before its first ':') -> rows
    requests_sent: int  # to the teacher, retries included (0 on a re-parse)
    cache_hits: int
    retries: int
    prompt_tokens: int  # over all rows, cached answers included
    completion_tokens: int
    elapsed_s: float


def run_synthesis(
    config: RunConfig, run_dir: Path, reparse: bool = False, *, progress: bool = False
) -> SynthesisResult:
    """Ask the teacher for a trace per prompt of ``RUN/prompts.parquet``; write ``RUN/synthesized.parquet``.

    Args:
        config: the run config (its ``synthesis`` and ``structure`` sections are used).
        run_dir: the run directory.
        reparse: rebuild every row from the cache alone, sending nothing.
        progress: show a rich progress bar.

    Raises:
        FileNotFoundError: without prompts, or without a cache to re-parse.
        CacheMissError: re-parsing, when the cache lacks a row's response.

    """
    import asyncio

    from alttrain.records import STATUS_OK, read_stage
    from alttrain.synthesis.engine import synthesize_cached
    from alttrain.synthesis.progress import SynthesisProgress

    prompts = read_stage(run_dir / PROMPTS_FILE, "prompts")
    if config.synthesis.limit is not None:
        prompts = prompts.head(config.synthesis.limit)
    cache_path = config.synthesis.cache_path or run_dir / CACHE_FILE
    if reparse and not cache_path.exists():
        raise FileNotFoundError(f"{cache_path}: no cache to re-parse (run `alttrain synthesize` first)")
    with SynthesisProgress(prompts.height, enabled=progress) as on_row:
        run = synthesize_cached(
            prompts, config.synthesis, config.structure, cache_path, offline=reparse, on_row=on_row
        )
        outcome = asyncio.run(run)
    frame = outcome.frame
    if frame.height != prompts.height:
        raise RuntimeError(f"synthesis lost rows: {prompts.height} prompts, {frame.height} rows")
    path = run_dir / SYNTHESIZED_FILE
    write_stage(frame, path, "synthesized")
    ok = frame.filter(frame["status"] == STATUS_OK).height
    kinds = frame["reason"].drop_nulls().str.split(":").list.first().value_counts()
    return SynthesisResult(
        path=path,
        cache_path=cache_path,
        rows=frame.height,
        ok=ok,
        quarantined=frame.height - ok,
        reasons=dict(zip(kinds["reason"].to_list(), kinds["count"].to_list(), strict=True)),
        requests_sent=outcome.stats.sent,
        cache_hits=outcome.stats.cache_hits,
        retries=outcome.stats.retries,
        prompt_tokens=int(frame["prompt_tokens"].sum()),
        completion_tokens=int(frame["completion_tokens"].sum()),
        elapsed_s=outcome.elapsed_s,
    )


@dataclass(frozen=True)
class TeacherProbeResult:
    """What the teacher probe wrote: a synthesis of a few prompts through ``synthesis.probe.teacher``."""

    teacher: str
    synthesis: SynthesisResult

    @property
    def validity(self) -> float:
        """Share of probe rows whose trace held the structure (0 when there were none)."""
        return self.synthesis.ok / self.synthesis.rows if self.synthesis.rows else 0.0


def run_teacher_probe(config: RunConfig, run_dir: Path) -> TeacherProbeResult:
    """Synthesize ``synthesis.probe.n`` prompts of the pool through the probe teacher into ``RUN/teacher_probe/``.

    Raises:
        ConfigError: when ``synthesis.probe`` is not configured.

    """
    import polars as pl

    from alttrain.config import ConfigError
    from alttrain.records import read_stage

    probe = config.synthesis.probe
    if probe is None:
        raise ConfigError("synthesis.probe is not configured")
    prompts = read_stage(run_dir / PROMPTS_FILE, "prompts")
    harmful = prompts.filter(pl.col("label") == "harmful")
    benign = prompts.filter(pl.col("label") == "benign")
    n_harmful = min(harmful.height, max(probe.n // 2, probe.n - benign.height))
    n_benign = min(benign.height, probe.n - n_harmful)
    sample = pl.concat(
        [harmful.sample(n_harmful, seed=config.seed), benign.sample(n_benign, seed=config.seed)]
    )
    probe_dir = run_dir / PROBE_DIR
    write_stage(sample, probe_dir / PROMPTS_FILE, "prompts")
    synthesis = config.synthesis.model_copy(
        update={"teacher": probe.teacher, "probe": None, "limit": None, "cache_path": None}
    )
    result = run_synthesis(config.model_copy(update={"synthesis": synthesis}), probe_dir, progress=True)
    return TeacherProbeResult(teacher=f"{probe.teacher.backend}:{probe.teacher.model}", synthesis=result)


def run_curation(config: RunConfig, run_dir: Path) -> CurationResult:
    """Filter, deduplicate and select: ``RUN/curated.parquet``, ``rejected.parquet``, ``curation_report.json``."""
    from alttrain.curation.run import curate_run

    return curate_run(config, run_dir)


def run_review_push(config: RunConfig, run_dir: Path) -> PushResult:
    """Send ``RUN/curated.parquet`` to Argilla for human review (upserts by id: re-running never duplicates)."""
    from alttrain.curation.review.push import push_for_review

    return push_for_review(config.review, config.structure, run_dir, config.name)


def run_review_pull(config: RunConfig, run_dir: Path) -> PullResult:
    """Bring reviews back: ``RUN/reviewed.parquet``, review rejections, ``RUN/review_report.json``."""
    from alttrain.curation.review.pull import pull_reviews

    return pull_reviews(config.review, config.structure, run_dir, config.name)


def run_datasheet(config: RunConfig, run_dir: Path) -> DatasheetResult:
    """Document and export the final dataset: ``RUN/datasheet/`` (datasheet, card, figures), ``RUN/dataset/``."""
    from alttrain.datasheets.build import build_datasheet

    return build_datasheet(config, run_dir)


def run_training(config: RunConfig, run_dir: Path) -> TrainingResult:
    """LoRA SFT on ``RUN/dataset/hf``: ``RUN/model/`` (adapter, optional merged weights, report, loss plot)."""
    from alttrain.training.run import train_model

    seed = config.training.seed if config.training.seed is not None else config.seed
    return train_model(
        config.training, run_dir / DATASET_HF_DIR, run_dir / MODEL_DIR, seed=seed, spec=config.structure
    )


def run_evaluation(
    config: RunConfig, run_dir: Path, progress: Callable[[str], None] | None = None
) -> EvaluationResult:
    """Compare the configured models (default: base vs ``RUN/model/adapter``) on held-out benchmarks.

    Writes ``RUN/eval/``: ``report.md``, ``report.json``, ``outputs.parquet``, ``figures/`` and the
    generation cache ``cache.sqlite``.

    Raises:
        ConfigError: for a reasoning-gym benchmark seeded like a training source.
        FileNotFoundError: without a training set to hold out from, or without the adapter.
        SourceError: for a benchmark that cannot be loaded (a Hub benchmark offline).
        TrainingError: (a subclass) for a model that cannot be located or a bad chat template.

    """
    from alttrain.evaluation.report import EvaluationResult, write_report
    from alttrain.evaluation.run import evaluate

    outcome = evaluate(config, run_dir, progress)
    return EvaluationResult(outcome, write_report(outcome, config, run_dir))
