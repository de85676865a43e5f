"""Run TRL's ``SFTTrainer`` on pre-tokenized data and measure the run.

Only the SFT API that TRL 1.15 (unsloth's pin) and 1.16 share is used: ``SFTConfig`` fields,
``SFTTrainer(model, args, train_dataset, processing_class, callbacks)``. The data arrives as
``input_ids`` + ``labels`` (see :mod:`alttrain.training.chat`), which both versions' default collator
pads and trains as is. No collator is passed: unsloth turns on its padding-free batching on a GPU only
when the trainer builds its own (``unsloth/trainer.py``: ``blocked = data_collator is not None or ...``).
"""

from __future__ import annotations

import dataclasses
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from alttrain.training.backends import LoadedModel, cuda_available
from alttrain.training.chat import IGNORE_INDEX
from alttrain.training.config import TrainingConfig

#: called after each training step with (step, total steps, last loss, input tokens so far)
StepReport = Callable[[int, int, float | None, int], None]


@dataclass
class FitOutcome:
    """What one training run did and cost."""

    steps: int
    loss_curve: list[dict[str, float]]
    trained_tokens: int
    input_tokens: int
    train_seconds: float
    peak_memory_bytes: int
    peak_memory_kind: str
    optimizer: str

    @property
    def final_loss(self) -> float | None:
        """The last logged training loss."""
        return self.loss_curve[-1]["loss"] if self.loss_curve else None


@dataclass
class TokenCounter:
    """Counts the tokens of every batch the trainer steps on (all, and those carrying loss)."""

    trained_tokens: int = 0
    input_tokens: int = 0

    def count(self, batch: dict[str, Any]) -> None:
        """Add one batch's tokens."""
        self.trained_tokens += int((batch["labels"] != IGNORE_INDEX).sum())
        mask = batch.get("attention_mask")  # absent in padding-free batches, which hold no padding
        self.input_tokens += int(mask.sum()) if mask is not None else int(batch["input_ids"].numel())


@dataclass
class LossCurve:
    """Collects ``(step, loss)`` from the trainer's logs and reports each step; a TrainerCallback by duck typing."""

    counter: TokenCounter
    progress: StepReport | None = None
    points: list[dict[str, float]] = field(default_factory=list)

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, float] | None = None, **_: Any) -> None:
        """Record a logged training loss (and show it: a step's loss is logged after its step ends)."""
        if logs and "loss" in logs:
            self.points.append({"step": int(state.global_step), "loss": float(logs["loss"])})
            self.on_step_end(args, state, control)

    def on_step_end(self, args: Any, state: Any, control: Any, **_: Any) -> None:
        """Report the step, the last loss and the tokens so far."""
        if self.progress is not None:
            loss = self.points[-1]["loss"] if self.points else None
            self.progress(int(state.global_step), int(state.max_steps), loss, self.counter.input_tokens)

    def __getattr__(self, name: str) -> Any:
        """Every other callback event is a no-op."""
        if name.startswith("on_"):
            return lambda *args, **kwargs: None
        raise AttributeError(name)


def choose_optimizer(config: TrainingConfig, device: str) -> str:
    """``auto``: 8-bit AdamW on a GPU with bitsandbytes, plain AdamW otherwise."""
    if config.optimizer != "auto":
        return config.optimizer
    import importlib.util

    return "adamw_8bit" if device == "cuda" and importlib.util.find_spec("bitsandbytes") else "adamw_torch"


def fit(
    loaded: LoadedModel,
    tokenizer: Any,
    dataset: Any,
    config: TrainingConfig,
    seed: int,
    progress: StepReport | None = None,
) -> FitOutcome:
    """Train ``loaded.model`` on a tokenized dataset with the config's recipe; return the measurements.

    ``progress`` is called after every step with (step, total steps, last loss, input tokens so far).
    """
    from transformers import PrinterCallback
    from trl import SFTConfig, SFTTrainer

    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    optimizer = choose_optimizer(config, loaded.device)
    on_cpu = loaded.device == "cpu"
    with tempfile.TemporaryDirectory(prefix="alttrain-sft-") as scratch:
        args = SFTConfig(
            output_dir=scratch,
            num_train_epochs=config.epochs,
            max_steps=config.max_steps or -1,
            per_device_train_batch_size=config.batch_size,
            gradient_accumulation_steps=config.grad_accum,
            learning_rate=config.learning_rate,
            lr_scheduler_type=config.lr_scheduler,
            warmup_steps=config.warmup_steps,
            weight_decay=config.weight_decay,
            optim=optimizer,
            seed=seed,
            data_seed=seed,
            bf16=loaded.precision.startswith("bf16"),
            fp16=loaded.precision.startswith("fp16"),
            use_cpu=on_cpu,
            # TRL turns checkpointing on by default; unsloth applies its own in get_peft_model.
            gradient_checkpointing=config.gradient_checkpointing and loaded.backend == "hf",
            max_length=config.max_length,
            logging_steps=1,
            save_strategy="no",
            report_to=[],
            disable_tqdm=True,
            dataloader_num_workers=0,
            **_length_grouping(SFTConfig, config.group_by_length),
        )
        counter = TokenCounter()
        curve = LossCurve(counter, progress)
        trainer = _counting_trainer(SFTTrainer, counter)(
            model=loaded.model,
            args=args,
            train_dataset=dataset,
            processing_class=tokenizer,
            callbacks=[curve],
        )
        trainer.remove_callback(PrinterCallback)  # it prints every log dict; the progress shows what matters
        if not on_cpu:
            import torch

            torch.cuda.reset_peak_memory_stats()
        started = time.perf_counter()
        trainer.train()
        train_seconds = time.perf_counter() - started
        peak, kind = _peak_memory(on_cpu)
        return FitOutcome(
            steps=int(trainer.state.global_step),
            loss_curve=curve.points,
            trained_tokens=counter.trained_tokens,
            input_tokens=counter.input_tokens,
            train_seconds=train_seconds,
            peak_memory_bytes=peak,
            peak_memory_kind=kind,
            optimizer=optimizer,
        )


def _length_grouping(config_class: type, enabled: bool) -> dict[str, Any]:
    """The option that batches similar lengths together, as this transformers version spells it.

    transformers 5.18+ has ``train_sampling_strategy="group_by_length"``; earlier 5.x (unsloth's pin) has
    ``group_by_length=True``. Both use the ``length`` column of the data when there is one.
    """
    names = {item.name for item in dataclasses.fields(config_class)}
    if not enabled:
        return {}
    if "train_sampling_strategy" in names:
        return {"train_sampling_strategy": "group_by_length"}
    return {"group_by_length": True} if "group_by_length" in names else {}


def _counting_trainer(base: type, counter: TokenCounter) -> type:
    """A subclass of the SFT trainer that counts each micro-batch it trains on.

    Counting in the collator would over-count: the data loader fetches one batch ahead.
    """

    class CountingSFTTrainer(base):  # type: ignore[misc, valid-type]
        def training_step(self, model: Any, inputs: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
            counter.count(inputs)
            return super().training_step(model, inputs, *args, **kwargs)

    return CountingSFTTrainer


def _peak_memory(on_cpu: bool) -> tuple[int, str]:
    """Peak resident memory of this process on CPU, peak CUDA allocation on a GPU, in bytes."""
    if on_cpu or not cuda_available():
        usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return int(usage if sys.platform == "darwin" else usage * 1024), "cpu_max_rss"
    import torch

    return int(torch.cuda.max_memory_allocated()), "cuda_max_allocated"
