"""The distribution gap in the datasheet: this dataset's and a variant's NLL under the embedded SmolLM2."""

from __future__ import annotations

import random
import re
import shutil
from pathlib import Path

import polars as pl
import pytest

import alttrain
from alttrain.config import parse_config
from alttrain.errors import MissingInputError
from alttrain.layout import CURATED_FILE, DATASHEET_FILE

from .runs import Run


def scrambled(trace: str) -> str:
    words = trace.split()
    random.Random(0).shuffle(words)
    return " ".join(words)


def with_gap(run: Run, run_dir: Path, model: Path, variants: dict[str, str]) -> alttrain.RunConfig:
    data = run.config.model_dump(mode="json")
    data["datasheet"]["distribution_gap"] = {"model": str(model), "variants": variants, "max_length": 128,
                                          "batch_size": 16}  # traces cut short: the test stays quick
    return parse_config(data)


def test_the_datasheet_reports_the_nll_of_this_dataset_and_its_variants(
    template_run: Run, smollm2_path: Path, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(template_run.run_dir, run_dir)
    curated = pl.read_parquet(run_dir / CURATED_FILE)
    variant = tmp_path / "scrambled.parquet"
    curated.with_columns(pl.col("trace").map_elements(scrambled, return_dtype=pl.String)).write_parquet(variant)
    result = alttrain.run_datasheet(with_gap(template_run, run_dir, smollm2_path, {"scrambled": str(variant)}), run_dir)
    this, other = result.gap
    assert (this.variant, this.this_run, other.variant, other.this_run) == ("teacher", True, "scrambled", False)
    assert this.rows == other.rows == curated.height and this.tokens > 0
    assert 0 < this.mean_nll < other.mean_nll  # the same words in order are likelier than scrambled
    sheet = (run_dir / DATASHEET_FILE).read_text(encoding="utf-8")
    assert re.search(rf"\| teacher \(this dataset\) \| {this.rows} \| {this.tokens} \| {this.mean_nll:.3f} \|", sheet)
    assert f"| scrambled | {other.rows} | {other.tokens} | {other.mean_nll:.3f} |" in sheet


def test_without_the_setting_nothing_is_measured(template_run: Run) -> None:
    assert template_run.result.gap == []
    assert "Distribution gap" not in (template_run.run_dir / DATASHEET_FILE).read_text(encoding="utf-8")


def test_a_missing_variant_is_named(template_run: Run, smollm2_path: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(template_run.run_dir, run_dir)
    config = with_gap(template_run, run_dir, smollm2_path, {"self": str(tmp_path / "nowhere.parquet")})
    with pytest.raises(MissingInputError, match="nowhere.parquet: distribution_gap variant not found"):
        alttrain.run_datasheet(config, run_dir)
