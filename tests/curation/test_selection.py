from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from alttrain.curation.filters.base import DROP
from alttrain.curation.selection import NOT_SELECTED, SelectionConfig, allocate, select


def survivors(counts: dict[tuple[str, str], int], seed: int = 0) -> pl.DataFrame:
    rows = []
    for (label, category), n in counts.items():
        rows += [
            {"id": f"{label}-{category}-{i}", "label": label, "category": category, "score": float((i * 7 + seed) % 10)}
            for i in range(n)
        ]
    return pl.DataFrame(rows)


def chosen(selection_frame: pl.DataFrame) -> pl.DataFrame:
    return selection_frame.filter(pl.col(DROP).is_null())


@given(st.integers(0, 60), st.dictionaries(st.sampled_from("abcdef"), st.integers(0, 20), min_size=1))
def test_allocation_fills_evenly_up_to_what_exists(quota: int, available: dict[str, int]) -> None:
    allocation = allocate(quota, available)
    assert sum(allocation.values()) == min(quota, sum(available.values()))
    assert all(0 <= allocation[c] <= available[c] for c in available)
    capped = [c for c in available if allocation[c] < available[c]]
    if capped:  # every category left with rows got at least as much as any other, give or take one
        assert max(allocation.values()) - min(allocation[c] for c in capped) <= 1


def test_exact_n_at_the_ratio_balanced_by_category() -> None:
    frame = survivors({("harmful", "a"): 50, ("harmful", "b"): 50, ("benign", "x"): 80, ("benign", "y"): 5})
    result = select(frame, SelectionConfig(n=41, harmful_fraction=0.3), seed=1)
    picked = chosen(result.frame)
    assert picked.height == 41
    assert result.selected_by_label == {"harmful": 12, "benign": 29}
    by_category = dict(picked.group_by("category").len().iter_rows())
    assert by_category == {"a": 6, "b": 6, "x": 24, "y": 5}
    assert any("benign/y short" in w for w in result.warnings)
    assert set(result.frame.filter(pl.col(DROP).is_not_null())[DROP]) == {NOT_SELECTED}


def test_best_scored_first_within_a_stratum_and_deterministic_under_the_seed() -> None:
    frame = survivors({("harmful", "a"): 30, ("benign", "x"): 30})
    config = SelectionConfig(n=10)
    first, again = select(frame, config, seed=3), select(frame.reverse(), config, seed=3)
    ids = sorted(chosen(first.frame)["id"].to_list())
    assert ids == sorted(chosen(again.frame)["id"].to_list())
    assert chosen(first.frame)["score"].min() >= first.frame.filter(pl.col(DROP).is_not_null())["score"].max()
    other = sorted(chosen(select(frame, config, seed=4).frame)["id"].to_list())
    assert other != ids  # ties (equal scores) are broken by the seed


def test_a_short_label_spills_to_the_other_one() -> None:
    frame = survivors({("harmful", "a"): 3, ("benign", "x"): 30})
    result = select(frame, SelectionConfig(n=20), seed=0)
    assert result.selected_by_label == {"harmful": 3, "benign": 17}
    assert any("label 'harmful' short" in w for w in result.warnings)


def test_fewer_survivors_than_n_is_a_warning_not_a_crash() -> None:
    result = select(survivors({("harmful", "a"): 4, ("benign", "x"): 5}), SelectionConfig(n=1000), seed=0)
    assert chosen(result.frame).height == 9
    assert any("only 9 rows survived" in w for w in result.warnings)


def test_without_category_balance_the_best_rows_win() -> None:
    frame = survivors({("benign", "x"): 10, ("benign", "y"): 10}).with_columns(
        pl.when(pl.col("category") == "x").then(9.5).otherwise(pl.col("score")).alias("score")
    )
    result = select(frame, SelectionConfig(n=10, harmful_fraction=0.0, balance_categories=False), seed=0)
    assert set(chosen(result.frame)["category"]) == {"x"}


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 60),
    fraction=st.floats(0, 1),
    counts=st.dictionaries(
        st.tuples(st.sampled_from(["harmful", "benign"]), st.sampled_from("abc")), st.integers(1, 30), min_size=1
    ),
)
def test_selection_invariants(n: int, fraction: float, counts: dict[tuple[str, str], int]) -> None:
    frame = survivors(counts)
    result = select(frame, SelectionConfig(n=n, harmful_fraction=fraction), seed=0)
    picked = chosen(result.frame)
    assert result.frame.height == frame.height
    assert picked.height == min(n, frame.height)
    harmful_available = frame.filter(pl.col("label") == "harmful").height
    benign_available = frame.height - harmful_available
    if harmful_available >= n and benign_available >= n:
        assert abs(result.selected_by_label["harmful"] - n * fraction) <= 1
