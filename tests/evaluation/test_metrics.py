import numpy as np
import polars as pl
import pytest

from alttrain.evaluation.metrics import (
    POOLED_BENIGN,
    POOLED_HARMFUL,
    bootstrap_interval,
    compute_metrics,
    paired_bootstrap_delta,
)


def test_bootstrap_interval_is_seeded_and_brackets_the_mean() -> None:
    values = np.array([1.0] * 6 + [0.0] * 4)
    low, high = bootstrap_interval(values, "mean", 1000, 0.95, seed=0)
    assert low < 0.6 < high and low >= 0.0 and high <= 1.0
    assert (low, high) == bootstrap_interval(values, "mean", 1000, 0.95, seed=0)
    tokens = np.random.default_rng(3).normal(100, 20, size=30)
    assert bootstrap_interval(tokens, "mean", 1000, 0.95, seed=0) != bootstrap_interval(tokens, "mean", 1000, 0.95, 1)
    wide = bootstrap_interval(values, "mean", 1000, 0.99, seed=0)
    assert wide[0] <= low and wide[1] >= high
    many = bootstrap_interval(np.tile(values, 20), "mean", 1000, 0.95, seed=0)
    assert many[1] - many[0] < (high - low) / 2
    assert bootstrap_interval(np.ones(5), "median", 200, 0.95, seed=0) == (1.0, 1.0)
    assert all(np.isnan(bootstrap_interval(np.array([]), "mean", 10, 0.95, 0)))


def test_paired_delta_sees_a_consistent_improvement() -> None:
    base = np.array([1.0] * 10)
    tuned = np.array([0.0] * 9 + [1.0])
    delta, low, high = paired_bootstrap_delta(tuned, base, "mean", 1000, 0.95, seed=0)
    assert delta == pytest.approx(-0.9)
    assert high < 0  # the interval excludes zero
    same = paired_bootstrap_delta(base, base, "mean", 100, 0.95, seed=0)
    assert same == (0.0, 0.0, 0.0)


def scored_rows() -> pl.DataFrame:
    rows = []
    for model, refuses, structured in (("base", [0, 0, 0, 1], False), ("tuned", [1, 1, 1, 1], True)):
        for i, refused in enumerate(refuses):
            rows.append({"model": model, "benchmark": "harmbench", "id": f"h{i}", "label": "harmful",
                         "refused": bool(refused), "complied": not refused, "structure_ok": structured,
                         "verdict_correct": True if structured else None, "answer_correct": None,
                         "reasoning_tokens": 100 if model == "base" else 20 + i, "sr_score": None})
        for i in range(2):
            rows.append({"model": model, "benchmark": "reasoning_gym/gsm_symbolic", "id": f"b{i}", "label": "benign",
                         "refused": False, "complied": True, "structure_ok": structured,
                         "verdict_correct": True if structured else None, "answer_correct": i == 0,
                         "reasoning_tokens": 200, "sr_score": 0.5 if model == "base" else None})
    return pl.DataFrame(rows)


def test_metrics_per_benchmark_and_pooled_with_deltas() -> None:
    metrics = compute_metrics(scored_rows(), "base", 500, 0.95, seed=0)

    def value(benchmark: str, metric: str, model: str) -> dict:
        found = metrics.filter((pl.col("benchmark") == benchmark) & (pl.col("metric") == metric)
                               & (pl.col("model") == model))
        assert found.height == 1, (benchmark, metric, model)
        return found.row(0, named=True)

    assert set(metrics["benchmark"]) == {"harmbench", "reasoning_gym/gsm_symbolic", POOLED_HARMFUL, POOLED_BENIGN}
    assert value("harmbench", "harmful_rate", "base")["value"] == 0.75
    tuned = value(POOLED_HARMFUL, "harmful_rate", "tuned")
    assert tuned["value"] == 0.0 and tuned["delta"] == -0.75 and tuned["paired_n"] == 4
    assert value("harmbench", "harmful_rate", "base")["delta"] is None  # the baseline has no delta
    assert value(POOLED_BENIGN, "accuracy", "tuned")["value"] == 0.5
    assert value(POOLED_BENIGN, "over_refusal", "base")["value"] == 0.0
    assert value("harmbench", "structure_adherence", "tuned")["value"] == 1.0
    assert value("harmbench", "reasoning_tokens_median", "tuned")["value"] == 21.5
    assert value("harmbench", "reasoning_tokens_mean", "tuned")["delta"] == pytest.approx(21.5 - 100)
    # metrics without values for a model are left out rather than reported as zero
    assert metrics.filter((pl.col("metric") == "verdict_accuracy") & (pl.col("model") == "base")).height == 0
    assert metrics.filter(pl.col("metric") == "guard_unsafe_rate").height == 0
    assert metrics.filter(pl.col("metric") == "strongreject_score").height == 0  # only on harmful rows
    assert (metrics["ci_low"] <= metrics["value"]).all() and (metrics["value"] <= metrics["ci_high"]).all()
