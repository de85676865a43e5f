"""The training report: ``train_report.json`` (every figure of the run) and ``loss.png`` (the loss curve)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from alttrain.layout import LOSS_PLOT_NAME, TRAIN_REPORT_NAME


def write_report(report: dict[str, Any], directory: Path) -> Path:
    """Write the report as indented JSON; return its path."""
    path = directory / TRAIN_REPORT_NAME
    path.write_text(json.dumps(report, indent=2, sort_keys=False) + "\n")
    return path


def plot_loss(loss_curve: list[dict[str, float]], directory: Path, title: str) -> Path:
    """Plot training loss against step; return the PNG's path."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 3.5))
    axes.plot([p["step"] for p in loss_curve], [p["loss"] for p in loss_curve], marker="o", markersize=3)
    axes.set_xlabel("optimizer step")
    axes.set_ylabel("training loss")
    axes.set_title(title)
    axes.grid(alpha=0.3)
    figure.tight_layout()
    path = directory / LOSS_PLOT_NAME
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def package_versions(names: tuple[str, ...]) -> dict[str, str]:
    """Installed versions of the named distributions (absent ones are left out)."""
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found
