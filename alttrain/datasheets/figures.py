"""The datasheet's figures (matplotlib, Agg backend): funnel, lengths, categories, balance, reduction.

Each figure is a PNG under ``RUN/datasheet/figures/`` referenced from both documents by a relative
path; a figure with nothing to show is skipped with a note that the documents print instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (the backend is chosen first)
import polars as pl  # noqa: E402
from matplotlib.figure import Figure as MplFigure  # noqa: E402

from alttrain.datasheets.funnel import FunnelStep  # noqa: E402
from alttrain.datasheets.provenance import Provenance  # noqa: E402
from alttrain.datasheets.stats import PHASES  # noqa: E402
from alttrain.layout import FIGURES_NAME
from alttrain.structure import LABELS  # noqa: E402

LABEL_COLOURS = {"harmful": "#c0392b", "benign": "#2e86c1"}
MAX_CATEGORIES = 20
DPI = 110


@dataclass(frozen=True)
class Figure:
    """One figure: its file (relative to the datasheet folder) and caption, or why it was skipped."""

    name: str
    caption: str
    path: str | None  # e.g. "figures/funnel.png"; None when skipped
    skipped: str | None = None


def _save(fig: MplFigure, folder: Path, name: str, caption: str) -> Figure:
    """Write ``fig`` as ``folder/figures/name.png`` and close it."""
    target = folder / FIGURES_NAME / f"{name}.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(target, dpi=DPI)
    plt.close(fig)
    return Figure(name, caption, f"{FIGURES_NAME}/{name}.png")


def funnel_figure(steps: list[FunnelStep], folder: Path) -> Figure:
    """Horizontal bars: rows remaining after each step, annotated with what the step removed."""
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(steps) + 1.2))
    labels = [f"{s.stage}: {s.step}" for s in steps]
    bars = ax.barh(range(len(steps)), [s.remaining for s in steps], color="#5d6d7e")
    for bar, step in zip(bars, steps, strict=True):
        note = f"{step.remaining}" + (f"  (-{step.removed})" if step.removed else "")
        ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, f" {note}", va="center", fontsize=8)
    ax.set_yticks(range(len(steps)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("rows")
    ax.set_xlim(0, max(s.remaining for s in steps) * 1.25 or 1)
    ax.set_title("Curation funnel: prompt pool to final dataset")
    caption = "Rows remaining after each step of the run (removed rows in brackets)."
    return _save(fig, folder, "funnel", caption)


def lengths_figure(lengths: pl.DataFrame, unit: str, folder: Path) -> Figure:
    """One histogram panel per phase, harmful and benign overlaid."""
    fig, axes = plt.subplots(1, len(PHASES), figsize=(3.2 * len(PHASES), 3.2))
    for ax, phase in zip(axes, PHASES, strict=True):
        in_phase = lengths.filter(pl.col("phase") == phase)
        low, high = int(in_phase["tokens"].min()), int(in_phase["tokens"].max())  # shared bins for both labels
        span = (low, high) if high > low else (low - 0.5, high + 0.5)
        for label in LABELS:
            rows = in_phase.filter(pl.col("label") == label)
            if rows.height:
                ax.hist(rows["tokens"].to_list(), bins=20, range=span, alpha=0.6, color=LABEL_COLOURS[label],
                        label=f"{label} ({rows.height})")
        ax.set_title(phase)
        ax.set_xlabel("tokens")
    axes[0].set_ylabel("rows")
    axes[0].legend(fontsize=8)
    caption = f"Length of each phase and of the whole trace per label, in {unit}."
    return _save(fig, folder, "lengths", caption)


def categories_figure(categories: list[dict], folder: Path) -> Figure:
    """Stacked bars: rows per category (largest first, the rest pooled as ``other``), split by label."""
    shown = categories[:MAX_CATEGORIES]
    rest = categories[MAX_CATEGORIES:]
    if rest:
        shown = [*shown, {"category": f"other ({len(rest)} categories)",
                          **{label: sum(c[label] for c in rest) for label in LABELS}}]
    fig, ax = plt.subplots(figsize=(8, 0.32 * len(shown) + 1.4))
    left = [0] * len(shown)
    for label in LABELS:
        widths = [c[label] for c in shown]
        ax.barh(range(len(shown)), widths, left=left, color=LABEL_COLOURS[label], label=label)
        left = [a + b for a, b in zip(left, widths, strict=True)]
    ax.set_yticks(range(len(shown)), [c["category"] for c in shown], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("rows")
    ax.legend(fontsize=8)
    ax.set_title("Category mix of the final dataset")
    return _save(fig, folder, "categories", "Rows per category in the final dataset, split by label.")


def balance_figure(final: pl.DataFrame, folder: Path) -> Figure:
    """Stacked bars per source, harmful and benign, with the overall ratio in the title."""
    per_source = final.group_by("source").agg([(pl.col("label") == lab).sum().alias(lab) for lab in LABELS])
    per_source = per_source.sort("source")
    fig, ax = plt.subplots(figsize=(7, 0.4 * per_source.height + 1.6))
    left = [0] * per_source.height
    for label in LABELS:
        widths = per_source[label].to_list()
        ax.barh(range(per_source.height), widths, left=left, color=LABEL_COLOURS[label], label=label)
        left = [a + b for a, b in zip(left, widths, strict=True)]
    ax.set_yticks(range(per_source.height), per_source["source"].to_list(), fontsize=8)
    ax.invert_yaxis()
    totals = {label: int(per_source[label].sum()) for label in LABELS}
    ax.set_title(f"Harmful : benign = {totals['harmful']} : {totals['benign']}")
    ax.set_xlabel("rows")
    ax.legend(fontsize=8)
    return _save(fig, folder, "balance", "Harmful and benign rows per source in the final dataset.")


def reduction_figure(lengths: pl.DataFrame, folder: Path) -> Figure:
    """Scatter of original vs rewritten think length (a ``rewrite_lengths`` frame); skipped when empty."""
    caption = "Think-block length after rewriting vs the original reasoning (rewrite mode)."
    if lengths.is_empty():
        return Figure("reduction", caption, None, "no row of the final dataset was rewritten")
    fig, ax = plt.subplots(figsize=(5.5, 5))
    for label in LABELS:
        rows = lengths.filter(pl.col("label") == label)
        if rows.height:
            ax.scatter(rows["original"], rows["rewritten"], s=12, alpha=0.7, color=LABEL_COLOURS[label],
                       label=label)
    top = max(int(lengths["original"].max()), int(lengths["rewritten"].max()))
    ax.plot([0, top], [0, top], linestyle="--", color="grey", linewidth=1, label="same length")
    ax.set_xlabel("original reasoning (tokens)")
    ax.set_ylabel("rewritten: understanding + assessment + reasoning (tokens)")
    ax.legend(fontsize=8)
    ax.set_title("Reduction vs original trace length")
    return _save(fig, folder, "reduction", caption)


def write_figures(provenance: Provenance, final: pl.DataFrame, lengths: pl.DataFrame, rewrites: pl.DataFrame,
                  folder: Path) -> list[Figure]:
    """Write every figure under ``folder/figures`` and return them in document order.

    ``lengths`` and ``rewrites`` are the ``phase_lengths`` and ``rewrite_lengths`` of the final rows.
    """
    return [
        funnel_figure(provenance.funnel, folder),
        lengths_figure(lengths, provenance.length_unit, folder),
        categories_figure(provenance.categories, folder),
        balance_figure(final, folder),
        reduction_figure(rewrites, folder),
    ]
