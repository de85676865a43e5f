"""Statistics a datasheet reports: lengths per phase and label, structure adherence, mixes, reduction.

Tokens are counted exactly as curation counts them: with the run's configured counter
(``curation.tokenizer``) and the shared length-reduction measure (:mod:`alttrain.measures`),
recomputed on the final rows (a review may have edited a trace since curation counted it).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import polars as pl

from alttrain.languages import frame_languages
from alttrain.measures import (
    THINK_PHASES,
    TOKEN_COLUMNS,
    TokenCounter,
    TokenizerConfig,
    with_length_reduction,
)
from alttrain.structure import LABELS, StructureSpec

PHASES = ("understanding", "assessment", "reasoning", "answer", "trace")  # "trace": the whole text
MEASURED_COLUMNS = (*TOKEN_COLUMNS, "original_tokens", "length_reduction")


@dataclass(frozen=True)
class LengthStat:
    """Length summary of one phase for one label."""

    label: str
    phase: str
    rows: int
    mean: float
    median: float
    p90: float
    max: int


@dataclass(frozen=True)
class Adherence:
    """How many traces of one label pass the structure validator, and what the others break."""

    label: str
    rows: int
    valid: int
    violations: dict[str, int]

    @property
    def rate(self) -> float:
        """Share of valid traces (0 when there are no rows)."""
        return self.valid / self.rows if self.rows else 0.0


@dataclass(frozen=True)
class Reduction:
    """Think-block length after rewriting vs the original reasoning, over rewrite-mode rows."""

    rows: int
    original_mean: float
    rewritten_mean: float
    factor_median: float  # median of curation's length_reduction: original / rewritten tokens

    @property
    def reduction(self) -> float:
        """Relative reduction of the mean length (negative: the rewrite is longer)."""
        return 1.0 - self.rewritten_mean / self.original_mean if self.original_mean else 0.0


def length_unit(tokenizer: TokenizerConfig) -> str:
    """Name the unit the counter counts in, for captions and tables."""
    if tokenizer.kind == "hf":
        return f"tokens of the tokenizer at {tokenizer.path}"
    return f"approximate tokens (matches of `{tokenizer.pattern}`: word runs and punctuation marks)"


def measure(frame: pl.DataFrame, counter: TokenCounter) -> pl.DataFrame:
    """Add fresh ``tokens_<phase>``, ``tokens_total``, ``original_tokens`` and ``length_reduction``."""
    stale = [column for column in MEASURED_COLUMNS if column in frame.columns]
    return with_length_reduction(frame.drop(stale), counter)


def phase_lengths(measured: pl.DataFrame) -> pl.DataFrame:
    """Long frame of ``id, label, phase, tokens`` from the output of :func:`measure`."""
    columns = {phase: f"tokens_{'total' if phase == 'trace' else phase}" for phase in PHASES}
    wide = measured.select("id", "label", *[pl.col(column).alias(phase) for phase, column in columns.items()])
    return wide.unpivot(index=["id", "label"], on=list(PHASES), variable_name="phase", value_name="tokens")


def length_stats(lengths: pl.DataFrame) -> list[LengthStat]:
    """Summarise a :func:`phase_lengths` frame per label and phase (labels, then phases, in order)."""
    grouped = lengths.group_by("label", "phase").agg(
        pl.len().alias("rows"),
        pl.col("tokens").mean().alias("mean"),
        pl.col("tokens").median().alias("median"),
        pl.col("tokens").quantile(0.9, interpolation="nearest").alias("p90"),
        pl.col("tokens").max().alias("max"),
    )
    by_key = {(row["label"], row["phase"]): row for row in grouped.iter_rows(named=True)}
    return [
        LengthStat(label, phase, row["rows"], row["mean"], row["median"], row["p90"], row["max"])
        for label in LABELS
        for phase in PHASES
        if (row := by_key.get((label, phase))) is not None
    ]


def adherence(frame: pl.DataFrame, spec: StructureSpec) -> list[Adherence]:
    """Validate every trace against its label (and its policy mode) in its language's markers, per label."""
    results = []
    for label in LABELS:
        rows = frame.filter(pl.col("label") == label)
        traces = rows["trace"].fill_null("").to_list()
        languages = frame_languages(rows)
        kinds: Counter[str] = Counter()
        valid = 0
        for trace, mode, language in zip(traces, rows["policy_mode"].to_list(), languages, strict=True):
            found = spec.validate(trace, label, mode, language)
            valid += not found
            kinds.update({violation.kind.value for violation in found})
        results.append(Adherence(label, len(traces), valid, dict(sorted(kinds.items()))))
    return results


def category_mix(frame: pl.DataFrame) -> pl.DataFrame:
    """Rows per ``category``: one column per label plus ``total``, largest categories first."""
    counts = frame.group_by("category", "label").agg(pl.len().alias("rows"))
    wide = counts.pivot(on="label", index="category", values="rows")
    absent = [label for label in LABELS if label not in wide.columns]
    wide = wide.with_columns([pl.lit(0, dtype=pl.UInt32).alias(label) for label in absent])
    wide = wide.select("category", *[pl.col(label).fill_null(0).cast(pl.Int64) for label in LABELS])
    wide = wide.with_columns(pl.sum_horizontal(*LABELS).alias("total"))
    return wide.sort(["total", "category"], descending=[True, False])


def language_mix(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """Rows per language (:func:`alttrain.languages.frame_languages`): ``language``, one count per label, ``total``."""
    mix: dict[str, dict[str, Any]] = {}
    for (language, label), rows in Counter(zip(frame_languages(frame), frame["label"], strict=True)).items():
        counts = mix.setdefault(language, {"language": language, **dict.fromkeys(LABELS, 0), "total": 0})
        counts[label] = counts.get(label, 0) + rows
        counts["total"] += rows
    return sorted(mix.values(), key=lambda row: (-row["total"], row["language"]))


def label_balance(frame: pl.DataFrame) -> dict[str, int]:
    """Rows per label, every label present (0 when absent)."""
    counts = dict(frame.group_by("label").agg(pl.len()).iter_rows())
    return {label: int(counts.get(label, 0)) for label in LABELS}


def rewrite_lengths(measured: pl.DataFrame) -> pl.DataFrame:
    """Per rewrite-mode row of a :func:`measure` output: ``original`` and ``rewritten`` think lengths."""
    rows = measured.filter(pl.col("original_tokens").is_not_null() & pl.col("length_reduction").is_not_null())
    return rows.select(
        "id",
        "label",
        pl.col("original_tokens").alias("original"),
        pl.sum_horizontal(pl.col(f"tokens_{phase}") for phase in THINK_PHASES).alias("rewritten"),
        pl.col("length_reduction").alias("factor"),
    )


def reduction(rewrites: pl.DataFrame) -> Reduction | None:
    """Summarise :func:`rewrite_lengths`; None when no row was rewritten from an original trace."""
    if rewrites.is_empty():
        return None
    return Reduction(
        rows=rewrites.height,
        original_mean=float(rewrites["original"].mean()),  # type: ignore[arg-type]
        rewritten_mean=float(rewrites["rewritten"].mean()),  # type: ignore[arg-type]
        factor_median=float(rewrites["factor"].median()),  # type: ignore[arg-type]
    )
