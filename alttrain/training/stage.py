"""The ``train`` stage: LoRA SFT on ``RUN/dataset/hf`` into ``RUN/model/``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from alttrain.console import say
from alttrain.layout import ADAPTER_DIR, DATASET_HF_DIR, LOGS_DIR, MODEL_DIR
from alttrain.quiet import library_output_to
from alttrain.stage import Stage
from alttrain.training.view import TrainingView

if TYPE_CHECKING:
    from alttrain.training.run import TrainingResult


def run_training(config: TrainingView, run_dir: Path, *, console: Console | None = None) -> TrainingResult:
    """LoRA SFT on ``RUN/dataset/hf``: ``RUN/model/`` (adapter, optional merged weights, report, loss plot).

    With a ``console``, a progress bar shows each step; library output goes to ``RUN/logs/train.log``.
    """
    from alttrain.training.progress import TrainingProgress
    from alttrain.training.run import train_model

    with library_output_to(run_dir / LOGS_DIR / "train.log"), TrainingProgress(console) as progress:
        return train_model(
            config.training, run_dir / DATASET_HF_DIR, run_dir / MODEL_DIR, spec=config.structure,
            progress=progress.update,
        )


def show_training(console: Console, result: TrainingResult, config: TrainingView) -> None:
    """Steps, loss, trained tokens and where the adapter went."""
    loss = f"{result.final_loss:.4f}" if result.final_loss is not None else "n/a"
    dropped = ", ".join(f"{reason} {count}" for reason, count in result.dropped.items()) or "none"
    say(console, f"trained on {result.rows_used} rows (dropped: {dropped}) with the {result.backend} backend: "
                 f"{result.steps} steps, final loss {loss}, {result.trained_tokens} trained tokens")
    say(console, f"wrote {result.adapter_dir}" + (f" and {result.merged_dir}" if result.merged_dir else ""))
    say(console, f"wrote {result.report_path} and {result.loss_plot}")



TRAINING_STAGE = Stage(
    name="train",
    summary="LoRA/QLoRA SFT on the curated dataset: RUN/model/.",
    view=TrainingView,
    inputs=(DATASET_HF_DIR,),
    outputs=(ADAPTER_DIR,),
    run=lambda context: run_training(context.config, context.run_dir, console=context.console),
    show=show_training,
)
