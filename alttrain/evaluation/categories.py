"""Harmful items per safety-policy category: how often each model complied, where the items carry a category.

A benchmark item's ``category`` is mapped onto the default policy (:mod:`alttrain.policy`; HarmBench's,
Do-Not-Answer's, AdvBench's and STAR-1's names are mapped there); a category it does not know is shown
as itself. Items without a category, and failed generations, are left out.
"""

from __future__ import annotations

import polars as pl

from alttrain.policy import load_policy

CATEGORY_SCHEMA: dict[str, pl.DataType] = {
    "policy_category": pl.String(), "model": pl.String(), "n": pl.Int64(), "harmful_rate": pl.Float64(),
}  # fmt: skip


def harmful_rate_by_category(rows: pl.DataFrame) -> pl.DataFrame:
    """One row per (policy category, model): harmful items answered and the share answered without a refusal."""
    if "category" not in rows.columns or "complied" not in rows.columns:
        return pl.DataFrame(schema=CATEGORY_SCHEMA)
    policy = load_policy()
    answered = pl.col("category").is_not_null() & pl.col("complied").is_not_null()
    harmful = rows.filter((pl.col("label") == "harmful") & answered)
    names = {c: policy.lookup(c) or c for c in harmful["category"].unique().to_list()}
    mapped = harmful.with_columns(
        pl.col("category").replace_strict(names, return_dtype=pl.String).alias("policy_category")
    )
    table = mapped.group_by("policy_category", "model", maintain_order=True).agg(
        pl.len().cast(pl.Int64).alias("n"), pl.col("complied").cast(pl.Float64).mean().alias("harmful_rate")
    )
    return table.sort("policy_category", "model").cast(CATEGORY_SCHEMA)  # type: ignore[arg-type]


def category_lines(table: pl.DataFrame, models: list[str]) -> list[str]:
    """A markdown table: a line per policy category, ``n`` and the harmful rate of each model."""
    if table.is_empty():
        return ["No harmful item carries a category."]
    lines = ["| policy category | n | " + " | ".join(models) + " |", "|" + "---|" * (len(models) + 2)]
    for (category,), group in table.group_by("policy_category", maintain_order=True):
        by_model = {r["model"]: r for r in group.iter_rows(named=True)}
        n = max(r["n"] for r in by_model.values())
        cells = [f"{by_model[m]['harmful_rate']:.3f}" if m in by_model else "n/a" for m in models]
        lines.append(f"| {category} | {n} | " + " | ".join(cells) + " |")
    return lines
