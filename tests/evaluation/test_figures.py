"""The safety-vs-capability figure: one point per model, written beside the other figures."""

from pathlib import Path

import polars as pl

from alttrain.evaluation.figures import safety_vs_capability
from alttrain.evaluation.metrics import compute_metrics
from tests.evaluation.test_paper_table import MODELS, scored_frame


def test_safety_vs_capability_is_drawn_for_every_model(tmp_path: Path) -> None:
    metrics = compute_metrics(scored_frame(), "base", 200, 0.95, 0)
    written = safety_vs_capability(metrics, MODELS, tmp_path)
    assert written == Path("figures") / "safety_vs_capability.png"
    assert (tmp_path / written).stat().st_size > 10_000


def test_no_figure_without_a_capability_benchmark(tmp_path: Path) -> None:
    harmful = scored_frame().filter(pl.col("label") == "harmful")
    assert safety_vs_capability(compute_metrics(harmful, "base", 200, 0.95, 0), MODELS, tmp_path) is None
    assert not (tmp_path / "figures").exists()
