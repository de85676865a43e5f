"""The training stage end to end: data -> chat rendering -> template check -> LoRA SFT -> RUN/model/.

Order matters: the backend is chosen first and, for unsloth, its module (which imports unsloth) is
imported before anything imports transformers; the data is read and the template checked before the
model is loaded, so bad data or a bad template fails in seconds, not after loading weights.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from alttrain.layout import ADAPTER_NAME, MERGED_NAME
from alttrain.models.source import resolve_model
from alttrain.models.templates import resolve_template
from alttrain.structure import StructureSpec
from alttrain.training.backends import BackendName, LoadedModel, select_backend
from alttrain.training.chat import ChatRenderer, resolve_format
from alttrain.training.config import TrainingConfig
from alttrain.training.data import PreparedData, load_records, prepare
from alttrain.training.report import package_versions, plot_loss, write_report
from alttrain.training.sft import FitOutcome, StepReport, fit
from alttrain.training.template_check import TemplateCheck, check_example

VERSIONED_PACKAGES = ("torch", "transformers", "trl", "peft", "datasets", "unsloth", "bitsandbytes")


@dataclass(frozen=True)
class TrainingResult:
    """What the training stage wrote and measured."""

    model_dir: Path
    adapter_dir: Path
    merged_dir: Path | None
    report_path: Path
    loss_plot: Path
    backend: BackendName
    steps: int
    final_loss: float | None
    trained_tokens: int
    rows_used: int
    dropped: dict[str, int] = field(default_factory=dict)


def _sort_set_lists(path: Path) -> None:
    """Sort the lists PEFT writes from sets (``target_modules``), so one training run writes one file.

    PEFT saves a set as ``list(set)``, whose order follows Python's per-process string hashing: the same
    adapter would otherwise be saved with a different ``adapter_config.json`` (and cache identity) per run.
    """
    config = json.loads(path.read_text())
    for key, value in config.items():
        if key.endswith("modules") and isinstance(value, list) and all(isinstance(item, str) for item in value):
            config[key] = sorted(value)
    path.write_text(json.dumps(config, indent=2, sort_keys=True))


def backend_module(backend: BackendName) -> ModuleType:
    """The backend's module; importing the unsloth one imports unsloth (so call this before transformers)."""
    if backend == "unsloth":
        from alttrain.training.backends import unsloth_backend

        return unsloth_backend
    from alttrain.training.backends import hf_backend

    return hf_backend


def train_model(
    config: TrainingConfig,
    dataset_dir: Path,
    model_dir: Path,
    *,
    spec: StructureSpec,
    progress: StepReport | None = None,
) -> TrainingResult:
    """Finetune the configured model on ``dataset_dir`` and write adapter, report and plot to ``model_dir``.

    ``progress`` hears about every step (see :func:`alttrain.training.sft.fit`).

    Raises:
        TrainingError: (a subclass) for bad data, a missing model, an unusable backend or template.

    """
    started = time.perf_counter()
    seed = config.seed
    backend = select_backend(config.backend)
    module = backend_module(backend)
    records = load_records(dataset_dir)
    model_path = resolve_model(config.model, config.cache_dir)

    import torch
    from transformers import AutoTokenizer, set_seed

    if config.threads:
        torch.set_num_threads(config.threads)
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    template = resolve_template(config.chat_template, tokenizer)
    renderer = ChatRenderer(tokenizer, template, resolve_format(config.format, template), spec)
    prepared = prepare(records, renderer, spec, config.max_length, config.overlength)
    check = check_example(prepared.examples[0], prepared.messages[0], tokenizer, spec)

    set_seed(seed)
    loaded = module.load_model(model_path, config, seed)
    outcome = fit(loaded, tokenizer, prepared.to_dataset(), config, seed, progress)

    for stale in (ADAPTER_NAME, MERGED_NAME):
        shutil.rmtree(model_dir / stale, ignore_errors=True)
    model_dir.mkdir(parents=True, exist_ok=True)
    adapter_dir = model_dir / ADAPTER_NAME
    tokenizer.chat_template = template.text
    loaded.model.save_pretrained(adapter_dir)
    _sort_set_lists(adapter_dir / "adapter_config.json")
    tokenizer.save_pretrained(adapter_dir)
    merged_dir = None
    if config.merge:
        merged_dir = model_dir / MERGED_NAME
        module.save_merged(loaded, tokenizer, merged_dir)

    loss_plot = plot_loss(outcome.loss_curve, model_dir, f"{config.model} ({backend}, {loaded.precision})")
    report = _report(config, model_path, renderer, loaded, prepared, check, outcome, seed)
    report["wall_seconds"] = round(time.perf_counter() - started, 2)
    report["outputs"] = {"adapter": str(adapter_dir), "merged": str(merged_dir) if merged_dir else None}
    report_path = write_report(report, model_dir)
    return TrainingResult(
        model_dir=model_dir,
        adapter_dir=adapter_dir,
        merged_dir=merged_dir,
        report_path=report_path,
        loss_plot=loss_plot,
        backend=backend,
        steps=outcome.steps,
        final_loss=outcome.final_loss,
        trained_tokens=outcome.trained_tokens,
        rows_used=prepared.rows_used,
        dropped=dict(prepared.dropped),
    )


def _report(
    config: TrainingConfig,
    model_path: str,
    renderer: ChatRenderer,
    loaded: LoadedModel,
    prepared: PreparedData,
    check: TemplateCheck,
    outcome: FitOutcome,
    seed: int,
) -> dict[str, Any]:
    """Everything ``train_report.json`` records about one run."""
    seconds = max(outcome.train_seconds, 1e-9)
    return {
        "backend": loaded.backend,
        "model": config.model,
        "model_path": model_path,
        "model_loaded": loaded.source or model_path,  # what the backend loaded (unsloth may swap in a mirror)
        "precision": loaded.precision,
        "optimizer": outcome.optimizer,
        "chat_template": renderer.template.name,
        "format": renderer.format,
        "seed": seed,
        "recipe": config.model_dump(mode="json", exclude={"backend", "model", "model_cache_dir"}),
        "data": {
            "rows_in": prepared.rows_in,
            "rows_used": prepared.rows_used,
            "dropped": dict(prepared.dropped),
            "truncated": prepared.truncated,
            "trained_tokens_per_epoch": prepared.trained_tokens_per_epoch,
        },
        "template_check": check.as_dict(),
        "steps": outcome.steps,
        "loss_curve": outcome.loss_curve,
        "final_loss": outcome.final_loss,
        "trained_tokens": outcome.trained_tokens,
        "input_tokens": outcome.input_tokens,
        "train_seconds": round(outcome.train_seconds, 2),
        "seconds_per_step": round(outcome.train_seconds / max(outcome.steps, 1), 3),
        "trained_tokens_per_second": round(outcome.trained_tokens / seconds, 1),
        "input_tokens_per_second": round(outcome.input_tokens / seconds, 1),
        "peak_memory_bytes": outcome.peak_memory_bytes,
        "peak_memory_kind": outcome.peak_memory_kind,
        "versions": package_versions(VERSIONED_PACKAGES),
    }
