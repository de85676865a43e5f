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
from dataclasses import dataclass, field, replace
from pathlib import Path

import polars as pl

from alttrain.errors import ConfigError
from alttrain.evaluation.benchmarks import ReasoningGymBenchmark, select_subset
from alttrain.evaluation.config import EvaluationConfig, ModelUnderTest
from alttrain.evaluation.generation import Generator, TeacherGenerator, TransformersGenerator, VLLMGenerator
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
from alttrain.evaluation.scoring import score_outputs
from alttrain.evaluation.view import EvaluationView
from alttrain.execution.base import Execution
from alttrain.execution.registry import executor_class, make_executor
from alttrain.layout import CACHE_FILE, EVAL_DIR, EVAL_SCALEOUT_FILE
from alttrain.llm.cache import ResponseCache
from alttrain.measures import TokenCounter, TokenizerConfig, make_counter
from alttrain.models.source import resolve_model
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


def load_items(config: EvaluationConfig, training: TrainingSet) -> tuple[pl.DataFrame, list[BenchmarkCount]]:
    """Every benchmark's documented subset of held-out items, and how each was accounted for."""
    parts, counts = [], []
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
        parts.append(subset)
    return pl.concat(parts), counts


def _overlaps(items: pl.DataFrame, training: TrainingSet, config: EvaluationConfig) -> pl.Series:
    """Overlap reasons against the training set (all null when there is none)."""
    if not training.found or not items.height:
        return pl.Series("overlap", [None] * items.height, dtype=pl.String)
    return overlap_reasons(items, training, config.heldout.near_dup)


def conversation(prompt: str, system_prompt: str | None) -> list[dict[str, str]]:
    """The chat a model under test answers: an optional system prompt, then the prompt."""
    system = [{"role": "system", "content": system_prompt}] if system_prompt else []
    return [*system, {"role": "user", "content": prompt}]


def make_generator(
    model: ModelUnderTest, config: EvaluationView, run_dir: Path, cache: ResponseCache,
    on_execution: Callable[[Execution], None] = lambda execution: None,
) -> Generator:  # fmt: skip
    """The generator for one model under test (``on_execution``: what ``evaluation.executor`` did for it)."""
    evaluation = config.evaluation
    sampling = evaluation.sampling.to_params()
    if model.max_tokens is not None:
        sampling = replace(sampling, max_tokens=model.max_tokens)
    if model.backend == "teacher":
        assert model.teacher is not None  # checked by the config
        if executor_class(evaluation.executor).distributed:
            from alttrain.evaluation.ray_generation import ExecutorTeacherGenerator

            executor = make_executor(evaluation.executor, run_dir / EVAL_DIR)
            return ExecutorTeacherGenerator(model.teacher, sampling, cache, executor, on_execution)
        return TeacherGenerator(model.teacher, sampling, cache)
    name = model.model or evaluation.base_model
    adapter = None if model.adapter is None else run_dir / model.adapter  # an absolute adapter path stays as is
    resolved = resolve_model(name, evaluation.cache_dir)
    rendering = {"chat_template": evaluation.chat_template, "think_open": config.structure.think_open}
    if model.backend == "vllm":
        return VLLMGenerator(name, resolved, adapter, sampling, cache, options=model.vllm_options, **rendering)
    return TransformersGenerator(name, resolved, adapter, sampling, evaluation.batch_size, cache,
                                 threads=evaluation.threads, precision=evaluation.precision, **rendering)


def distinct_generators(
    config: EvaluationView, run_dir: Path, cache: ResponseCache, reports: dict[str, ScaleoutReport] | None = None
) -> dict[str, Generator]:
    """A generator per model (nothing loaded yet); two models with one identity would share cache entries.

    ``reports`` receives, per model, the report of the executor that generated away from this process.

    Raises:
        ConfigError: naming the models whose identities (``backend:model`` for a teacher) coincide.

    """
    models, kept = config.evaluation.models, {} if reports is None else reports

    def keep(name: str) -> Callable[[Execution], None]:
        return lambda execution: kept.update({name: execution.report} if execution.report is not None else {})

    generators = {name: make_generator(model, config, run_dir, cache, keep(name)) for name, model in models.items()}
    seen: dict[str, str] = {}
    for name, generator in generators.items():
        if generator.identity in seen:
            raise ConfigError(
                f"evaluation.models: {seen[generator.identity]!r} and {name!r} are the same model "
                f"({generator.identity}); give them distinct model names or weights"
            )
        seen[generator.identity] = name
    return generators


def generate_rows(items: pl.DataFrame, name: str, generator: Generator, config: EvaluationView) -> pl.DataFrame:
    """One row per item: the model's output (its reasoning channel put back in the think block)."""
    spec = config.structure
    chats = [conversation(prompt, config.evaluation.system_prompt) for prompt in items["prompt"]]
    generations = generator.generate(chats)
    outputs = [
        f"{spec.think_open}\n{g.reasoning.strip()}\n{spec.think_close}\n{g.text}" if g.reasoning else g.text
        for g in generations
    ]
    return items.with_columns(
        pl.lit(name).alias("model"),
        pl.lit(generator.identity).alias("model_identity"),
        pl.Series("output", outputs, dtype=pl.String),
        pl.Series("completion_tokens", [g.completion_tokens for g in generations], dtype=pl.Int64),
        pl.Series("finish_reason", [g.finish_reason for g in generations], dtype=pl.String),
        pl.Series("error", [g.error for g in generations], dtype=pl.String),
    )


def token_counter(config: EvaluationView) -> tuple[TokenCounter, str]:
    """The reasoning-token counter and its description: the configured one, else the baseline's tokenizer."""
    evaluation = config.evaluation
    setting = evaluation.tokenizer
    if setting is None:
        baseline = evaluation.models[evaluation.baseline]
        resolved = None
        if baseline.backend == "transformers":
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
    items, counts = load_items(evaluation, training)
    say(f"{items.height} held-out items from {len(counts)} benchmarks")
    counter, counter_description = token_counter(config)
    cache = ResponseCache(evaluation.cache_path or run_dir / EVAL_DIR / CACHE_FILE)
    try:
        reports: dict[str, ScaleoutReport] = {}
        generators = distinct_generators(config, run_dir, cache, reports)
        frames, runs = [], []
        for name in list(generators):
            say(f"generating with {name}")
            generator = generators.pop(name)
            frames.append(generate_rows(items, name, generator, config))
            del generator
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
                             counter_description)


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
