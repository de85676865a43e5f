"""The evaluation stage end to end: benchmarks -> held-out subsets -> generation -> judges -> metrics -> report.

Every configured model answers the same held-out items, so models are compared item by item. Failed
generations and unparsed judge replies stay in ``RUN/eval/outputs.parquet`` with their reason and are
counted in the report; the counts add up (loaded = duplicates + overlaps + held out; held out =
evaluated + not needed for the subset; evaluated rows = generated + failed, per model).
"""

from __future__ import annotations

import gc
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from alttrain.errors import ConfigError
from alttrain.evaluation.benchmarks import ReasoningGymBenchmark, select_subset
from alttrain.evaluation.config import EvaluationConfig
from alttrain.evaluation.heldout import (
    OVERLAP_ID,
    OVERLAP_NEAR_DUP,
    OVERLAP_TEXT,
    TrainingSet,
    load_training_set,
    overlap_reasons,
)
from alttrain.evaluation.judge_rows import run_judges
from alttrain.evaluation.judges import ClassifierAccuracy, refusal_heuristic_accuracy
from alttrain.evaluation.metrics import compute_metrics
from alttrain.evaluation.model_clients import Checkpoints, answer, distinct_clients, model_sampling
from alttrain.evaluation.scoring import score_outputs
from alttrain.evaluation.selection import Selection, selection_of
from alttrain.evaluation.view import EvaluationView
from alttrain.execution.local import LocalSettings
from alttrain.execution.registry import executor_class, make_executor
from alttrain.layout import CACHE_FILE, EVAL_DIR, EVAL_SCALEOUT_FILE
from alttrain.llm.backends import backend_class
from alttrain.llm.cache import ResponseCache
from alttrain.llm.client import teacher_identity
from alttrain.llm.config import CheckpointOptions, TeacherConfig
from alttrain.llm.types import SamplingParams
from alttrain.measures import TokenCounter, TokenizerConfig, make_counter
from alttrain.models.source import resolve_model

if TYPE_CHECKING:
    from alttrain.execution.base import Executor
    from alttrain.scaleout.accounting import ScaleoutReport

Progress = Callable[[str], None]


@dataclass(frozen=True)
class BenchmarkCount:
    """How one benchmark's items were accounted for."""

    benchmark: str
    loaded: int
    duplicates: int
    overlap_id: int
    overlap_text: int
    overlap_near_dup: int
    held_out: int
    evaluated: int
    commit: str | None = None  # the Hub commit read (a Hub dataset)


@dataclass(frozen=True)
class ModelRun:
    """What one model did: its identity, rows answered and failed, and its judges' outcomes."""

    name: str
    identity: str
    answered: int
    failed: int
    truncated: int
    max_tokens: int = 0  # the limit on new tokens it generated with
    judges: dict[str, dict[str, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class EvaluationOutcome:
    """Everything the report needs."""

    rows: pl.DataFrame
    metrics: pl.DataFrame
    counts: list[BenchmarkCount]
    models: list[ModelRun]
    training_set: Path | None
    heuristic: ClassifierAccuracy
    token_counter: str
    selections: list[Selection]


def check_eval_seeds(config: EvaluationView) -> None:
    """Refuse reasoning-gym benchmarks generated from the same task and seed as a training source.

    Raises:
        ConfigError: naming the benchmark and the prompt source.

    """
    training = set(config.prompts.generated_problems)
    for benchmark in config.evaluation.benchmarks:
        if isinstance(benchmark, ReasoningGymBenchmark) and (benchmark.task, benchmark.seed) in training:
            raise ConfigError(
                f"evaluation.benchmarks: {benchmark.name} uses seed {benchmark.seed}, the seed a training prompt "
                f"source generates {benchmark.task} from; pick another seed so the problems are held out"
            )


def load_items(
    config: EvaluationConfig, training: TrainingSet
) -> tuple[pl.DataFrame, list[BenchmarkCount], list[Selection]]:
    """Every benchmark's documented subset of held-out items, how each was accounted for, and its selection."""
    parts, counts, selections = [], [], []
    for benchmark in config.benchmarks:
        loaded = benchmark.load()
        unique = loaded.unique(subset="id", keep="first", maintain_order=True)
        reasons = _overlaps(unique, training, config)
        subset = select_subset(unique, benchmark, reasons.is_not_null())
        counts.append(
            BenchmarkCount(
                benchmark=benchmark.name, loaded=loaded.height, duplicates=loaded.height - unique.height,
                overlap_id=int((reasons == OVERLAP_ID).sum()), overlap_text=int((reasons == OVERLAP_TEXT).sum()),
                overlap_near_dup=int((reasons == OVERLAP_NEAR_DUP).sum()),
                held_out=int(reasons.is_null().sum()), evaluated=subset.height, commit=benchmark.read_commit(),
            )
        )
        selections.append(selection_of(benchmark, loaded.height, subset))
        parts.append(subset)
    return pl.concat(parts), counts, selections


def _overlaps(items: pl.DataFrame, training: TrainingSet, config: EvaluationConfig) -> pl.Series:
    """Overlap reasons against the training set (all null when there is none)."""
    if not training.found or not items.height:
        return pl.Series("overlap", [None] * items.height, dtype=pl.String)
    return overlap_reasons(items, training, config.heldout.near_dup)


def conversation(prompt: str, system_prompt: str | None) -> list[dict[str, str]]:
    """The chat a model under test answers: an optional system prompt, then the prompt."""
    system = [{"role": "system", "content": system_prompt}] if system_prompt else []
    return [*system, {"role": "user", "content": prompt}]


def checkpoints(config: EvaluationView) -> Checkpoints:
    """What checkpoint models take from the run: the base model, its chat template, where it is converted to."""
    evaluation = config.evaluation
    rendering = CheckpointOptions(chat_template=evaluation.chat_template, think_open=config.structure.think_open,
                                  cache_dir=evaluation.cache_dir)  # fmt: skip
    return Checkpoints(evaluation.base_model, rendering)


def model_executor(config: EvaluationView, teacher: TeacherConfig, run_dir: Path) -> Executor[Any]:
    """``evaluation.executor`` for a model whose backend runs there; else this process (transformers batches)."""
    settings = config.evaluation.executor
    if executor_class(settings).distributed and not backend_class(teacher.backend).supports_ray:
        settings = LocalSettings()
    return make_executor(settings, run_dir / EVAL_DIR)


def generate_rows(
    items: pl.DataFrame, name: str, teacher: TeacherConfig, sampling: SamplingParams, cache: ResponseCache,
    config: EvaluationView, executor: Executor[Any],
) -> tuple[pl.DataFrame, ScaleoutReport | None]:  # fmt: skip
    """One row per item: the model's output (its reasoning channel put back in the think block).

    Also returns the report of an executor that ran away from this process (None here).
    """
    spec = config.structure
    chats = [conversation(prompt, config.evaluation.system_prompt) for prompt in items["prompt"]]
    answers, report = answer(chats, teacher, sampling, cache, executor)
    outputs = [
        f"{spec.think_open}\n{a['reasoning_content'].strip()}\n{spec.think_close}\n{a['text']}"
        if a["reasoning_content"] else a["text"]
        for a in answers
    ]
    rows = items.with_columns(
        pl.lit(name).alias("model"),
        pl.lit(teacher_identity(teacher)).alias("model_identity"),
        pl.Series("output", outputs, dtype=pl.String),
        pl.Series("completion_tokens", [a["completion_tokens"] for a in answers], dtype=pl.Int64),
        pl.Series("finish_reason", [a["finish_reason"] for a in answers], dtype=pl.String),
        pl.Series("error", [a["error"] for a in answers], dtype=pl.String),
    )
    return rows, report


def token_counter(config: EvaluationView) -> tuple[TokenCounter, str]:
    """The reasoning-token counter and its description: the configured one, else the baseline's tokenizer."""
    evaluation = config.evaluation
    setting = evaluation.tokenizer
    if setting is None:
        baseline = evaluation.models[evaluation.baseline]
        resolved = None
        if backend_class(baseline.backend).supports_lora:  # a checkpoint on this machine: its tokenizer
            resolved = Path(resolve_model(baseline.model or evaluation.base_model, evaluation.cache_dir))
        setting = TokenizerConfig(kind="hf", path=resolved) if resolved and resolved.is_dir() else TokenizerConfig()
    description = f"hf tokenizer at {setting.path}" if setting.kind == "hf" else f"regex {setting.pattern!r}"
    return make_counter(setting), description


def evaluate(config: EvaluationView, run_dir: Path, progress: Progress | None = None) -> EvaluationOutcome:
    """Run the whole evaluation and return its rows, metrics and counts (the report is written apart)."""
    say = progress or (lambda message: None)
    evaluation = config.evaluation
    check_eval_seeds(config)
    heldout = evaluation.heldout
    training = load_training_set(run_dir, heldout.training_set, required=heldout.require_training_set)
    items, counts, selections = load_items(evaluation, training)
    say(f"{items.height} held-out items from {len(counts)} benchmarks")
    counter, counter_description = token_counter(config)
    cache = ResponseCache(evaluation.cache_path or run_dir / EVAL_DIR / CACHE_FILE)
    try:
        clients = distinct_clients(evaluation, checkpoints(config), run_dir)
        frames, runs, reports = [], [], {}
        for name, teacher in clients.items():
            say(f"generating with {name}")
            sampling = model_sampling(evaluation.models[name], evaluation)
            executor = model_executor(config, teacher, run_dir)
            rows, report = generate_rows(items, name, teacher, sampling, cache, config, executor)
            frames.append(rows)
            if report is not None:
                reports[name] = report
            gc.collect()  # the model just used is no longer referenced
        _write_scaleout(run_dir / EVAL_SCALEOUT_FILE, evaluation.executor.kind, reports)
        rows = pl.concat(frames)
        ok = rows.filter(pl.col("error").is_null())
        scored = score_outputs(ok, config.structure, counter)
        scored = pl.concat([scored, rows.filter(pl.col("error").is_not_null())], how="diagonal_relaxed")
        say("judging")
        scored = run_judges(scored, evaluation, cache)
    finally:
        cache.close()
    scored = scored.sort("model", "benchmark", "id")
    for name in evaluation.models:
        max_tokens = evaluation.models[name].max_tokens or evaluation.sampling.max_tokens
        runs.append(_model_run(name, scored.filter(pl.col("model") == name), max_tokens))
    metrics = compute_metrics(
        scored.filter(pl.col("error").is_null()), evaluation.baseline, evaluation.bootstrap_resamples,
        evaluation.confidence, evaluation.seed,
    )
    return EvaluationOutcome(scored, metrics, counts, runs, training.path, refusal_heuristic_accuracy(),
                             counter_description, selections)


def _write_scaleout(path: Path, executor: str, reports: dict[str, ScaleoutReport]) -> None:
    """Write the pools' accounting per model (``RUN/eval/scaleout.json``); a local run removes an old one."""
    if not reports:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    models = {name: report.as_json("eval") for name, report in reports.items()}
    path.write_text(json.dumps({"stage": "eval", "executor": executor, "models": models}, indent=2) + "\n")


def _model_run(name: str, rows: pl.DataFrame, max_tokens: int) -> ModelRun:
    """Count what one model did (with ``max_tokens`` new tokens at most)."""
    judges = {}
    for prefix in ("sr", "guard"):
        statuses = rows[f"{prefix}_status"].drop_nulls()
        if statuses.len():
            judges[prefix] = {status: int((statuses == status).sum()) for status in ("ok", "unparsed", "error")}
    return ModelRun(
        name=name,
        identity=rows["model_identity"][0] if rows.height else "",
        answered=int(rows["error"].is_null().sum()),
        failed=int(rows["error"].is_not_null().sum()),
        truncated=int((rows["finish_reason"] == "length").sum()),
        max_tokens=max_tokens,
        judges=judges,
    )
