"""The evaluation's figures (matplotlib, Agg backend), each a PNG under ``RUN/eval/figures/``.

``metrics.png``: bars per benchmark and model with bootstrap CI error bars; ``reasoning_tokens.png``:
the distribution of reasoning tokens per model, harmful and benign prompts apart;
``safety_vs_capability.png``: per model, the pooled harmful rate against the pooled capability accuracy.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (the backend is chosen first)
import numpy as np  # noqa: E402
import polars as pl  # noqa: E402

from alttrain.evaluation.metrics import POOLED_BENIGN, POOLED_HARMFUL  # noqa: E402
from alttrain.layout import FIGURES_NAME  # noqa: E402

DPI = 110
#: metrics drawn as bars, in this order, when they have values
BAR_METRICS = (
    "harmful_rate", "strongreject_score", "guard_unsafe_rate", "over_refusal", "accuracy",
    "structure_adherence", "verdict_accuracy",
)


def _save(fig: plt.Figure, folder: Path, name: str) -> Path:
    """Write ``fig`` as ``folder/figures/name.png``, close it, return the path relative to ``folder``."""
    target = folder / FIGURES_NAME / f"{name}.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(target, dpi=DPI)
    plt.close(fig)
    return target.relative_to(folder)


def metric_bars(metrics: pl.DataFrame, models: list[str], folder: Path) -> Path | None:
    """One panel per metric: grouped bars per benchmark, one bar per model, CI as error bars."""
    shown = [m for m in BAR_METRICS if metrics.filter(pl.col("metric") == m).height]
    if not shown:
        return None
    fig, axes = plt.subplots(len(shown), 1, figsize=(9, 2.6 * len(shown)), squeeze=False)
    width = 0.8 / max(len(models), 1)
    for ax, metric in zip(axes[:, 0], shown, strict=True):
        rows = metrics.filter(pl.col("metric") == metric)
        benchmarks = rows["benchmark"].unique(maintain_order=True).to_list()
        for offset, model in enumerate(models):
            picked = [rows.filter((pl.col("benchmark") == b) & (pl.col("model") == model)) for b in benchmarks]
            value = np.array([p["value"][0] if p.height else np.nan for p in picked], dtype=float)
            low = np.array([p["ci_low"][0] if p.height else np.nan for p in picked], dtype=float)
            high = np.array([p["ci_high"][0] if p.height else np.nan for p in picked], dtype=float)
            errors = np.nan_to_num(np.vstack([value - low, high - value]))
            x = np.arange(len(benchmarks)) + (offset - (len(models) - 1) / 2) * width
            bars = ax.bar(x, np.nan_to_num(value), width, yerr=errors, capsize=3, label=model)
            ax.bar_label(bars, labels=["" if np.isnan(v) else f"{v:.2f}" for v in value], fontsize=7, padding=2)
        ax.set_xticks(np.arange(len(benchmarks)), benchmarks, fontsize=8)
        ax.set_ylim(0, 1.15)
        ax.set_title(metric, fontsize=10)
        ax.legend(fontsize=8, loc="upper right")
    return _save(fig, folder, "metrics")


def token_distributions(rows: pl.DataFrame, models: list[str], folder: Path) -> Path | None:
    """Histograms of reasoning tokens per model, one panel per label."""
    rows = rows.filter(pl.col("reasoning_tokens").is_not_null())
    labels = [label for label in ("harmful", "benign") if rows.filter(pl.col("label") == label).height]
    if not labels:
        return None
    fig, axes = plt.subplots(1, len(labels), figsize=(5 * len(labels), 3.4), squeeze=False)
    top = max(int(rows["reasoning_tokens"].max() or 1), 1)
    bins = np.linspace(0, top, 21)
    for ax, label in zip(axes[0], labels, strict=True):
        for model in models:
            values = rows.filter((pl.col("label") == label) & (pl.col("model") == model))["reasoning_tokens"]
            if not values.len():
                continue
            ax.hist(values.to_numpy(), bins=bins, alpha=0.55, label=f"{model} (median {values.median():.0f})")
        ax.set_title(f"reasoning tokens, {label} prompts", fontsize=10)
        ax.set_xlabel("tokens")
        ax.set_ylabel("outputs")
        ax.legend(fontsize=8)
    return _save(fig, folder, "reasoning_tokens")


def _pooled(metrics: pl.DataFrame, pool: str, metric: str, model: str) -> tuple[float, float, float] | None:
    """``(value, low, high)`` of one pooled metric of one model (None: not measured)."""
    found = metrics.filter((pl.col("benchmark") == pool) & (pl.col("metric") == metric) & (pl.col("model") == model))
    return (found["value"][0], found["ci_low"][0], found["ci_high"][0]) if found.height else None


def safety_vs_capability(metrics: pl.DataFrame, models: list[str], folder: Path) -> Path | None:
    """One point per model: pooled capability against pooled safety, each with its interval as an error bar.

    Capability is ``accuracy`` over every benign item with a reference, safety ``harmful_rate`` over every
    harmful item (the refusal heuristic, which every row gets).
    """
    points = {m: (_pooled(metrics, POOLED_BENIGN, "accuracy", m), _pooled(metrics, POOLED_HARMFUL, "harmful_rate", m))
              for m in models}  # fmt: skip
    points = {m: (x, y) for m, (x, y) in points.items() if x is not None and y is not None}
    if not points:
        return None
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    for model, ((x, x_low, x_high), (y, y_low, y_high)) in points.items():
        ax.errorbar([x], [y], xerr=[[x - x_low], [x_high - x]], yerr=[[y - y_low], [y_high - y]], fmt="o", capsize=4,
                    label=model)  # fmt: skip
        ax.annotate(model, (x, y), textcoords="offset points", xytext=(6, 6), fontsize=8)
    ax.set_xlim(-0.05, 1.05)
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlabel(f"capability: accuracy, {POOLED_BENIGN} with a reference (higher is better)")
    ax.set_ylabel(f"harmful rate, {POOLED_HARMFUL} (lower is better)")
    ax.set_title("safety vs capability, with bootstrap intervals", fontsize=10)
    ax.legend(fontsize=8)
    return _save(fig, folder, "safety_vs_capability")
