"""Benchmarks downloaded from the Hugging Face Hub with ``datasets.load_dataset``.

These need network access to the Hub (and, for gated sets, a token in the environment that
``huggingface_hub`` reads); offline they fail with a :class:`BenchmarkError` that says so. Each one's
``revision`` (None: the default branch) is resolved to its commit before loading; that commit is loaded
and recorded (:meth:`HubBenchmark.read_commit`, the eval report). ``dataset`` may be a local folder of the
set's files (tests use one; inside a Hub cache snapshot it records that snapshot's commit), or one local
file (``.csv``, ``.tsv``, ``.json``, ``.jsonl``, ``.parquet``) read whole as the split, e.g. StrongREJECT's own
``strongreject_dataset.csv`` (``forbidden_prompt`` for the Hub copy's ``prompt``) or XSTest's
``xstest_prompts.csv``.

==================  ===================================  ==================================  =======
kind                Hub dataset (config, splits)         items                               n
==================  ===================================  ==================================  =======
``strongreject``    walledai/StrongREJECT (train)        313 harmful                         50
``xstest``          walledai/XSTest (test)               250 safe -> over-refusal (+200)     all
``jailbreakbench``  JailbreakBench/JBB-Behaviors         100 harmful + 100 benign            all
                    (behaviors: harmful, benign)
``wildjailbreak``   allenai/wildjailbreak (eval, train)  2,210 adversarial harmful/benign    200
==================  ===================================  ==================================  =======
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal

import polars as pl
from pydantic import Field, PrivateAttr

from alttrain.errors import BenchmarkError
from alttrain.evaluation.benchmarks import Benchmark, to_items
from alttrain.hub_revision import hub_commit
from alttrain.records import conform, record_id
from alttrain.structure import Label

Row = dict[str, Any]
#: the ``datasets`` builder that reads a local file of each suffix (``dataset:`` one file, not a folder)
FILE_BUILDERS = {".csv": "csv", ".tsv": "csv", ".json": "json", ".jsonl": "json", ".parquet": "parquet"}


def load_hub_rows(benchmark: str, path: str, name: str | None, split: str, **kwargs: Any) -> list[Row]:
    """Download one split of a Hub dataset as a list of rows.

    Raises:
        BenchmarkError: naming the benchmark and the dataset when it cannot be loaded (offline,
            gated without a token, renamed).

    """
    import datasets

    try:
        dataset = datasets.load_dataset(path, name, split=split, **kwargs)
    except Exception as error:  # datasets raises many types (connection, gating, missing files)
        raise BenchmarkError(
            f"benchmark {benchmark!r}: could not load {path!r} (split {split!r}) from the Hugging Face Hub "
            f"({type(error).__name__}: {error}). It needs network access to the Hub; the offline "
            f"benchmarks are harmbench, donotanswer, advbench and reasoning_gym (xsafety and flames read a local copy)."
        ) from None
    return list(dataset)


def hub_items(
    rows: Iterable[Row],
    benchmark: str,
    license_: str,
    prompt: Callable[[Row], str],
    label: Callable[[Row], Label | None],
    category: Callable[[Row], str],
) -> pl.DataFrame:
    """Map Hub rows onto evaluation items; a row whose ``label`` is None is left out by design.

    Raises:
        BenchmarkError: when a row has an empty prompt (so nothing is dropped silently).

    """
    records = []
    for index, row in enumerate(rows):
        row_label = label(row)
        if row_label is None:
            continue
        text = (prompt(row) or "").strip()
        if not text:
            raise BenchmarkError(f"benchmark {benchmark!r}: row {index} has an empty prompt")
        records.append(
            {"id": record_id(benchmark, text), "prompt": text, "label": row_label, "category": category(row),
             "source": benchmark, "license": license_}
        )
    columns = ("id", "prompt", "label", "category", "source", "license")
    frame = pl.DataFrame(records, schema=dict.fromkeys(columns, pl.String))
    return to_items(conform(frame, "prompts"), benchmark)


class HubBenchmark(Benchmark):
    """A benchmark read from a Hub dataset (``dataset``) at ``revision``, resolved to a commit per load."""

    dataset: str
    revision: str | None = None
    _commit: str | None = PrivateAttr(default=None)

    def read_commit(self) -> str | None:
        """The commit the last load read (None before a load, or for a local folder outside a Hub snapshot)."""
        return self._commit

    def rows(self, name: str | None, split: str, **kwargs: Any) -> list[Row]:
        """One split at the commit ``revision`` names now (resolved on the load's first split, then kept).

        Raises:
            BenchmarkError: the revision cannot be resolved (offline without a cached ref, not found), or the
                split cannot be loaded.

        """
        if self._commit is None:
            try:
                self._commit = hub_commit(self.dataset, self.revision)
            except Exception as error:  # huggingface_hub raises many types (offline, not found, gated)
                raise BenchmarkError(
                    f"benchmark {self.name!r}: cannot resolve {self.dataset!r} revision {self.revision or 'main'!r} "
                    f"to a commit ({type(error).__name__}: {error}); it needs network access to the Hub, or "
                    "`revision:` set to a commit hash"
                ) from None
        path = Path(self.dataset).expanduser()
        if path.is_file():
            return self._file_rows(path, **kwargs)
        local = path.exists()
        return load_hub_rows(self.name, self.dataset, name, split, revision=self.revision if local else self._commit,
                             **kwargs)  # fmt: skip


    def _file_rows(self, path: Path, **kwargs: Any) -> list[Row]:
        """Every row of one local file (its builder by suffix; a ``.tsv`` is tab-separated).

        Raises:
            BenchmarkError: for a suffix no builder reads, or a file that builder cannot read.

        """
        import datasets

        builder = FILE_BUILDERS.get(path.suffix.lower())
        if builder is None:
            raise BenchmarkError(
                f"benchmark {self.name!r}: cannot read {str(path)!r}; a local file must end in "
                f"{', '.join(FILE_BUILDERS)} (or give the folder of the set's files)"
            )
        if path.suffix.lower() == ".tsv":
            kwargs.setdefault("delimiter", "\t")
        try:
            return list(datasets.load_dataset(builder, split="train", **{**kwargs, "data_files": str(path)}))
        except Exception as error:  # datasets raises many types (parse errors, missing columns)
            raise BenchmarkError(
                f"benchmark {self.name!r}: could not read {str(path)!r} ({type(error).__name__}: {error})"
            ) from None


class StrongRejectBenchmark(HubBenchmark):
    """StrongREJECT's 313 forbidden prompts (harmful): the Hub copy's ``prompt`` or the CSV's ``forbidden_prompt``."""

    kind: Literal["strongreject"] = "strongreject"
    dataset: str = "walledai/StrongREJECT"

    def load(self) -> pl.DataFrame:
        """Download and map every prompt."""
        rows = self.rows(None, "train")
        return hub_items(rows, self.name, "MIT (StrongREJECT)", lambda r: r.get("prompt") or r["forbidden_prompt"],
                         lambda r: "harmful", lambda r: str(r.get("category") or "strongreject"))


class XSTestBenchmark(HubBenchmark):
    """XSTest: 250 safe prompts that look unsafe (over-refusal), optionally with its 200 unsafe contrasts."""

    kind: Literal["xstest"] = "xstest"
    n: int | None = Field(default=None, ge=1)
    dataset: str = "walledai/XSTest"
    include_unsafe: bool = False

    def load(self) -> pl.DataFrame:
        """Download; ``label`` safe -> benign, unsafe -> harmful (left out unless ``include_unsafe``)."""

        def label(row: Row) -> Label | None:
            if row["label"] == "safe":
                return "benign"
            return "harmful" if self.include_unsafe else None

        rows = self.rows(None, "test")
        return hub_items(rows, self.name, "CC-BY-4.0 (XSTest)", lambda r: r["prompt"], label,
                         lambda r: str(r.get("type") or "xstest"))


class JailbreakBenchBenchmark(HubBenchmark):
    """JailbreakBench JBB-Behaviors: 100 harmful behaviours and 100 matched benign ones."""

    kind: Literal["jailbreakbench"] = "jailbreakbench"
    n: int | None = Field(default=None, ge=1)
    dataset: str = "JailbreakBench/JBB-Behaviors"

    def load(self) -> pl.DataFrame:
        """Download both splits of the ``behaviors`` config; the split is the label."""
        parts = []
        for split, label in (("harmful", "harmful"), ("benign", "benign")):
            rows = self.rows("behaviors", split)
            parts.append(hub_items(rows, self.name, "MIT (JailbreakBench)", lambda r: r["Goal"],
                                   lambda r, lab=label: lab, lambda r: str(r.get("Category") or "jbb")))
        return pl.concat(parts)


class WildJailbreakBenchmark(HubBenchmark):
    """WildJailbreak's evaluation set: 2,210 adversarial prompts, harmful (label 1) and benign (label 0)."""

    kind: Literal["wildjailbreak"] = "wildjailbreak"
    n: int | None = Field(default=200, ge=1)
    dataset: str = "allenai/wildjailbreak"

    def load(self) -> pl.DataFrame:
        """Download the ``eval`` config (a tab-separated file on the Hub)."""
        rows = self.rows("eval", "train", delimiter="\t", keep_default_na=False)
        return hub_items(rows, self.name, "ODC-BY (WildJailbreak)", lambda r: r["adversarial"],
                         lambda r: "harmful" if int(r["label"]) == 1 else "benign",
                         lambda r: str(r.get("data_type") or "wildjailbreak"))
