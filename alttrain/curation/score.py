"""The quality score that ranks candidates (0-10): the judge's when present, else a documented heuristic.

The heuristic (for rows that passed every filter, so already well-formed and consistent) is ten times
the mean of three parts in [0, 1]:

- **phase fill**: the share of the three phases (understanding, assessment, reasoning) with at least
  ``min_phase_tokens`` tokens; a one-line phase is a weak example of the structure;
- **concision**: 1 up to ``target_tokens`` tokens of trace, then ``target_tokens / tokens_total``;
- **first try**: ``1 / attempts``; a trace the teacher needed repair prompts for scores lower.

Ties are broken by a hash of the row id under the selection seed, so every ordering is deterministic.
"""

from __future__ import annotations

import polars as pl
from pydantic import BaseModel, ConfigDict, PositiveInt

from alttrain.measures import TokenCounter, with_token_counts

SCORE_SOURCES = ("judge", "heuristic")


class HeuristicScoreConfig(BaseModel):
    """Parameters of the heuristic quality score."""

    model_config = ConfigDict(extra="forbid")

    min_phase_tokens: PositiveInt = 8
    target_tokens: PositiveInt = 1024


def heuristic_score(config: HeuristicScoreConfig) -> pl.Expr:
    """The heuristic score expression over token columns and ``attempts`` (see module docstring)."""
    phases = ("understanding", "assessment", "reasoning")
    fill = pl.mean_horizontal(
        (pl.col(f"tokens_{p}") >= config.min_phase_tokens).cast(pl.Float64) for p in phases
    )
    total = pl.col("tokens_total").cast(pl.Float64)
    concision = pl.when(total <= config.target_tokens).then(1.0).otherwise(config.target_tokens / total)
    first_try = 1.0 / pl.col("attempts").fill_null(1).clip(lower_bound=1).cast(pl.Float64)
    return (10.0 * (fill + concision + first_try) / 3.0).alias("score")


def with_scores(frame: pl.DataFrame, config: HeuristicScoreConfig, counter: TokenCounter) -> pl.DataFrame:
    """Add ``score`` and ``score_source``: ``judge_score`` where not null, else the heuristic."""
    frame = with_token_counts(frame, counter)
    judged = pl.col("judge_score").is_not_null() if "judge_score" in frame.columns else pl.lit(False)
    judge = pl.col("judge_score") if "judge_score" in frame.columns else pl.lit(None, dtype=pl.Float64)
    return frame.with_columns(
        pl.when(judged).then(judge).otherwise(heuristic_score(config)).alias("score"),
        pl.when(judged).then(pl.lit("judge")).otherwise(pl.lit("heuristic")).alias("score_source"),
    )


def rank_order(seed: int) -> tuple[list[pl.Expr], list[bool]]:
    """Sort keys and directions: best score first, then a seeded hash of the id (deterministic ties)."""
    return [pl.col("score"), pl.col("id").hash(seed)], [True, False]
