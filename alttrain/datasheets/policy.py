"""The datasheet's account of the safety policy: which file, each category's mode and answer, rows per category."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from alttrain.policy import load_policy


@dataclass(frozen=True)
class PolicyRow:
    """One policy category as the datasheet shows it, with the final dataset's rows in it."""

    category: str
    title: str
    mode: str
    must: list[str]
    rows: int


@dataclass(frozen=True)
class PolicySection:
    """The policy file, its peer taxonomies and its categories (those with final rows first)."""

    source: str
    taxonomies: list[str]
    categories: list[PolicyRow]
    unrecorded: int  # final rows without a policy category (written before the policy existed)


def policy_section(path: Path | None, final: pl.DataFrame) -> PolicySection:
    """Describe the policy at ``path`` (None: the shipped default) and count ``final``'s rows per category.

    Raises:
        PolicyError: the policy file cannot be read or validated.

    """
    policy = load_policy(path)
    counts = dict(final.group_by("policy_category").len().iter_rows())
    rows = [
        PolicyRow(name, category.title, category.mode, list(category.must), counts.get(name, 0))
        for name, category in policy.categories.items()
    ]
    shipped = "the default policy shipped with alttrain (alttrain/policy/default.yaml)"
    return PolicySection(
        source=str(path) if path is not None else shipped,
        taxonomies=list(policy.mappings),
        categories=sorted(rows, key=lambda row: -row.rows),
        unrecorded=counts.get(None, 0),
    )
