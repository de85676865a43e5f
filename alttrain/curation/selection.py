"""Selection: exactly ``n`` rows (when there are enough) at a harmful:benign ratio, balanced by category.

Rule, deterministic under the seed:

1. Label quotas: ``round(n * harmful_fraction)`` harmful, the rest benign. A label with too few
   survivors gives all it has and its shortfall spills to the other label.
2. Category quotas within a label (``balance_categories``): water-filling, i.e. every category gets an
   even share; a category with fewer rows than its share gives all it has and the rest is shared
   evenly among the categories that still have rows (smaller categories get the odd rows first,
   then by name). Without balancing, a label's quota goes to its best rows whatever their category.
3. Within a stratum, best ``score`` first, ties by a seeded hash of the id.

Every shortfall is reported as a warning; fewer survivors than ``n`` is a warning, not an error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from alttrain.curation.filters.base import DROP
from alttrain.curation.score import rank_order
from alttrain.structure import LABELS

NOT_SELECTED = "selection:not_selected"


class SelectionConfig(BaseModel):
    """How many rows to select and how to balance them."""

    model_config = ConfigDict(extra="forbid")

    n: PositiveInt = 1000
    harmful_fraction: float = Field(default=0.5, ge=0.0, le=1.0)
    balance_categories: bool = True
    seed: int = 0  # set from the run's seed when the run config leaves it out


@dataclass(frozen=True)
class Selection:
    """The survivors with a DROP column (null: selected) and what fell short."""

    frame: pl.DataFrame
    selected_by_label: dict[str, int]
    warnings: list[str]


def allocate(quota: int, available: dict[str, int]) -> dict[str, int]:
    """Water-fill ``quota`` over categories capped by ``available``; sums to ``min(quota, total)``."""
    allocation = dict.fromkeys(available, 0)
    remaining = quota
    ordered = sorted(available, key=lambda c: (available[c], str(c)))
    for index, category in enumerate(ordered):
        share = math.ceil(remaining / (len(ordered) - index)) if remaining > 0 else 0
        allocation[category] = min(available[category], share)
        remaining -= allocation[category]
    return allocation


def _label_quotas(config: SelectionConfig, available: dict[str, int], warnings: list[str]) -> dict[str, int]:
    """Rows to take per label, spilling a short label's shortfall to the other one."""
    wanted = {"harmful": math.floor(config.n * config.harmful_fraction + 0.5)}
    wanted["benign"] = config.n - wanted["harmful"]
    quotas = {label: min(wanted[label], available.get(label, 0)) for label in LABELS}
    for label in LABELS:
        other = next(o for o in LABELS if o != label)
        if quotas[label] < wanted[label]:
            quotas[other] = min(available.get(other, 0), config.n - quotas[label])
            warnings.append(
                f"label {label!r} short: wanted {wanted[label]}, had {available.get(label, 0)}; "
                f"spilled to {other!r} (now {quotas[other]})"
            )
    return quotas


def _stratum_quotas(
    frame: pl.DataFrame, quotas: dict[str, int], balance: bool, warnings: list[str]
) -> pl.DataFrame:
    """A (label, category, _quota) table; with balance off the category is the label's only stratum."""
    counts = frame.group_by("label", "category").len().sort("label", "category")
    rows = []
    for label in LABELS:
        available = {r["category"]: r["len"] for r in counts.filter(pl.col("label") == label).iter_rows(named=True)}
        if not balance:
            rows.append({"label": label, "category": None, "_quota": quotas[label]})
            continue
        allocation = allocate(quotas[label], available)
        even = quotas[label] / len(available) if available else 0
        for category, taken in sorted(allocation.items(), key=lambda item: str(item[0])):
            if available[category] < even:
                warnings.append(
                    f"stratum {label}/{category} short: even share {even:.1f}, had {available[category]}; "
                    f"the rest went to other {label} categories"
                )
            rows.append({"label": label, "category": category, "_quota": taken})
    schema = {"label": pl.String, "category": pl.String, "_quota": pl.Int64}
    return pl.DataFrame(rows, schema=schema)


def select(frame: pl.DataFrame, config: SelectionConfig, seed: int) -> Selection:
    """Pick the rows to keep from ``frame`` (the dedup survivors, each with a ``score``)."""
    warnings: list[str] = []
    by_label = dict(frame.group_by("label").len().iter_rows())
    quotas = _label_quotas(config, by_label, warnings)
    strata = _stratum_quotas(frame, quotas, config.balance_categories, warnings)
    keys = ["label", "category"] if config.balance_categories else ["label"]
    order, descending = rank_order(seed)
    ranked = frame.sort(order, descending=descending, maintain_order=True)
    ranked = ranked.with_columns(pl.int_range(pl.len()).over(keys).alias("_rank"))
    ranked = ranked.join(strata.select(*keys, "_quota"), on=keys, how="left", nulls_equal=True)
    chosen = pl.col("_rank") < pl.col("_quota").fill_null(0)
    ranked = ranked.with_columns(pl.when(chosen).then(None).otherwise(pl.lit(NOT_SELECTED)).alias(DROP))
    ranked = ranked.drop("_rank", "_quota")
    selected = ranked.filter(pl.col(DROP).is_null())
    if selected.height < config.n:
        warnings.append(f"only {selected.height} rows survived curation; selected all of them, not {config.n}")
    counts = dict(selected.group_by("label").len().iter_rows())
    return Selection(ranked, {label: counts.get(label, 0) for label in LABELS}, warnings)
