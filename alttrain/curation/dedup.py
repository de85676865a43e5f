"""Prompt dedup: exact (normalised text) and near duplicates (MinHash-LSH with rensa), best one kept.

Clusters are built over every row's prompt (:func:`prompt_clusters`, independent of the filters, so
the pipeline builds them in a thread while the filters run), so each row carries a ``cluster_id``
(the smallest record id in its cluster); only rows that passed the filters compete to stay
(:func:`deduplicate`). Within a cluster the best-scored row is kept (ties: a seeded hash of the id):
first per exact group (the others get ``dedup:exact``), then per near-duplicate cluster
(``dedup:near:<cluster_id>``).

Near duplicates are found by :mod:`alttrain.neardup` (MinHash-LSH over word n-grams, with boilerplate
shared by many prompts left out, so prompts inside one wrapper are compared on what they ask);
:func:`prompt_templates` names that boilerplate for the curation report.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from alttrain.curation.filters.base import DROP
from alttrain.curation.score import rank_order
from alttrain.neardup import DedupConfig, SharedTemplate, near_duplicate_components, normalised, shared_templates


def prompt_clusters(rows: pl.DataFrame, config: DedupConfig) -> pl.DataFrame:
    """Cluster every row's prompt, whatever its filters said (the pipeline runs this beside them).

    ``rows`` needs ``_row``, ``id`` and ``prompt``. Returns per row: ``_row``, ``_exact`` (one per
    normalised prompt), ``_component`` (one per near-duplicate cluster; an exact group is inside one)
    and ``cluster_id`` (the smallest id of the component).
    """
    norm = normalised(rows["prompt"].fill_null("")).alias("_norm")
    keys = norm.to_frame().unique(maintain_order=True).with_row_index("_exact")
    components = near_duplicate_components(keys["_norm"], config) if config.near else np.arange(keys.height)
    keys = keys.with_columns(pl.Series("_component", components, dtype=pl.Int64))
    clustered = rows.select("_row", "id", norm).join(keys, on="_norm", how="left")
    return clustered.select(
        "_row", "_exact", "_component", pl.col("id").min().over("_component").alias("cluster_id")
    )


def prompt_templates(prompts: pl.Series, config: DedupConfig) -> list[SharedTemplate]:
    """The templates shared by many distinct prompts, as near-dup leaves them out (none when near dedup is off)."""
    if not config.near:
        return []
    return shared_templates(normalised(prompts.fill_null("")).unique(maintain_order=True), config)


def deduplicate(frame: pl.DataFrame, clusters: pl.DataFrame, config: DedupConfig, seed: int) -> pl.DataFrame:
    """Among the rows still competing, keep the best of each exact group, then of each cluster.

    ``frame`` needs ``_row``, ``id``, ``score`` and ``filter_reason`` (null: the row competes);
    ``clusters`` comes from :func:`prompt_clusters` over the same rows. Returns one row per input
    row: ``_row``, ``cluster_id`` and the DROP reason (null for the kept rows and for rows that did
    not compete).
    """
    rows = frame.select("_row", "id", "score", "filter_reason").join(clusters, on="_row", how="left")
    order, descending = rank_order(seed)
    competing = pl.col("filter_reason").is_null()
    ranked = rows.filter(competing).sort(order, descending=descending, maintain_order=True)
    position = pl.int_range(pl.len())
    ranked = ranked.with_columns(position.over("_exact" if config.exact else "_row").alias("_exact_rank"))
    leaders = ranked.filter(pl.col("_exact_rank") == 0)
    leaders = leaders.with_columns(position.over("_component" if config.near else "_row").alias("_near_rank"))
    ranked = ranked.join(leaders.select("_row", "_near_rank"), on="_row", how="left")
    reason = (
        pl.when(pl.col("_exact_rank") > 0).then(pl.lit("dedup:exact"))
        .when(pl.col("_near_rank") > 0).then(pl.lit("dedup:near:") + pl.col("cluster_id"))
        .otherwise(None).alias(DROP)
    )
    others = rows.filter(~competing).select("_row", "cluster_id", pl.lit(None, dtype=pl.String).alias(DROP))
    return pl.concat([others, ranked.select("_row", "cluster_id", reason)]).sort("_row")
