"""The ``eval`` stage: base vs tuned (or any models) on held-out benchmarks, into ``RUN/eval/``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from alttrain.console import say
from alttrain.evaluation.view import EvaluationView
from alttrain.layout import (
    ADAPTER_DIR,
    DATASET_HF_DIR,
    EVAL_PAPER_TABLE_JSON,
    EVAL_PAPER_TABLE_MD,
    EVAL_REPORT_JSON,
    EVAL_REPORT_MD,
    EVAL_SELECTION,
    LOGS_DIR,
)
from alttrain.quiet import library_output_to
from alttrain.refusal import MEASURED_AGREEMENT, MEASURED_AGREEMENT_ZH
from alttrain.stage import Stage, StageContext

if TYPE_CHECKING:
    from alttrain.evaluation.report import EvaluationResult


def run_evaluation(
    config: EvaluationView, run_dir: Path, progress: Callable[[str], None] | None = None
) -> EvaluationResult:
    """Compare the configured models (default: base vs ``RUN/model/adapter``) on held-out benchmarks.

    Writes ``RUN/eval/``: ``report.md``, ``report.json``, the paper's table (``paper_table.md``,
    ``paper_table.json``), every benchmark's selected ids (``selection.json``), ``outputs.parquet``,
    ``figures/`` and the generation cache ``cache.sqlite``; library output goes to ``RUN/logs/eval.log``.

    Raises:
        ConfigError: for a reasoning-gym benchmark seeded like a training source.
        MissingInputError: without a training set to hold out from, or without the adapter.
        SourceError: for a benchmark that cannot be loaded (a Hub benchmark offline).
        TrainingError: (a subclass) for a model that cannot be located or a bad chat template.

    """
    from alttrain.evaluation.report import EvaluationResult, write_report
    from alttrain.evaluation.run import evaluate

    with library_output_to(run_dir / LOGS_DIR / "eval.log"):
        outcome = evaluate(config, run_dir, progress)
        return EvaluationResult(outcome, write_report(outcome, config, run_dir))


def show_evaluation(console: Console, result: EvaluationResult, config: EvaluationView) -> None:
    """The metrics table, per-model generation counts and the report files."""
    from alttrain.evaluation.report import summary_table

    console.print(summary_table(result.outcome, config))
    for model in result.outcome.models:
        say(console, f"{model.name}: {model.answered} answered, {model.failed} failed, {model.truncated} cut off")
    heuristic = result.outcome.heuristic
    say(
        console,
        f"refusal heuristic: accuracy {heuristic.accuracy:.3f} on {heuristic.n} labelled responses "
        f"(pyrit refusal set; {heuristic.false_positive} false positives, {heuristic.false_negative} false negatives); "
        f"{MEASURED_AGREEMENT.agreement:.3f} on {MEASURED_AGREEMENT.n} XSTest completions, "
        f"{MEASURED_AGREEMENT_ZH.agreement:.3f} on {MEASURED_AGREEMENT_ZH.n} Chinese answers (bench/refusal_judge.py)",
    )
    files = result.files
    say(console, f"wrote {files.markdown}, {files.json}, {files.paper_table}, {files.selection}, {files.outputs} "
                 f"and {len(files.figures)} figures")


def _run(context: StageContext[EvaluationView]) -> EvaluationResult:
    return run_evaluation(context.config, context.run_dir, progress=context.say)


EVALUATION_STAGE = Stage(
    name="eval",
    summary="Evaluate base vs tuned: harmful rate, over-refusal, accuracy, structure, length: RUN/eval/.",
    view=EvaluationView,
    inputs=(DATASET_HF_DIR, ADAPTER_DIR),
    outputs=(EVAL_REPORT_MD, EVAL_REPORT_JSON, EVAL_PAPER_TABLE_MD, EVAL_PAPER_TABLE_JSON, EVAL_SELECTION),
    run=_run,
    show=show_evaluation,
)
