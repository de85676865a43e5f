"""Multiple choice: CMMLU (Chinese, 67 subjects, four choices), graded by the choice letter (scorer ``letter``).

=========  ============================================  ================  ===============  ====  ====
kind       data (split ``test``)                         license           items            n     seed
=========  ============================================  ================  ===============  ====  ====
``cmmlu``  haonan-li/cmmlu at ``refs/convert/parquet``   CC BY-NC-SA 4.0   11,528 (67       200   0
           (one config per subject), or a local copy of                    subjects)
           the GitHub release: ``data/test/<subject>.csv``
=========  ============================================  ================  ===============  ====  ====

The Hub repository holds a loading script that ``datasets`` no longer runs, so the default revision is its
parquet export. A local CSV has the header ``,Question,A,B,C,D,Answer`` (the first column an unnamed row
index); the Hub rows have the same named columns. ``subjects`` picks subjects (default: every one present).
An item's id is ``<subject>/<row>``; its prompt shows the question and the lettered choices in Chinese and
asks for ``答案：X``; its reference is the letter.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Literal

import polars as pl
from pydantic import Field

from alttrain.errors import BenchmarkError
from alttrain.evaluation.benchmarks import to_items
from alttrain.evaluation.capability.sources import is_local
from alttrain.evaluation.hub_benchmarks import HubBenchmark, Row

CMMLU_LICENSE = "CC BY-NC-SA 4.0 (CMMLU)"
CHOICES = "ABCD"
COLUMNS = ("Question", *CHOICES, "Answer")


def cmmlu_prompt(row: Row) -> str:
    """The Chinese prompt of one question: the question, its lettered choices and the answer format."""
    choices = "\n".join(f"{letter}. {str(row[letter]).strip()}" for letter in CHOICES)
    return (f"以下是单项选择题，请选出正确答案，并在最后以“答案：X”的格式给出选项字母。\n\n"
            f"{str(row['Question']).strip()}\n{choices}")  # fmt: skip


def cmmlu_items(rows_by_subject: dict[str, list[Row]], benchmark: str) -> pl.DataFrame:
    """Map each subject's rows (in file order) onto evaluation items scored by ``letter``.

    Raises:
        BenchmarkError: a row that lacks a column or whose answer is not one of A-D.

    """
    records = []
    for subject, rows in rows_by_subject.items():
        for index, row in enumerate(rows):
            answer = str(row.get("Answer") or "").strip().upper()
            if any(row.get(column) in (None, "") for column in COLUMNS) or answer not in CHOICES:
                raise BenchmarkError(f"benchmark {benchmark!r}: {subject} row {index} lacks one of "
                                     f"{', '.join(COLUMNS)} or its answer {answer!r} is not one of A-D")  # fmt: skip
            records.append(
                {"id": f"{subject}/{index}", "prompt": cmmlu_prompt(row), "label": "benign",
                 "category": "multiple_choice", "source": benchmark, "license": CMMLU_LICENSE,
                 "reference_answer": answer}
            )  # fmt: skip
    columns = ("id", "prompt", "label", "category", "source", "license", "reference_answer")
    return to_items(pl.DataFrame(records, schema=dict.fromkeys(columns, pl.String)), benchmark, scorer="letter")


def read_subject_csv(path: Path) -> list[Row]:
    """The rows of one subject's CSV (the header names every column but the leading row index)."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


class CmmluBenchmark(HubBenchmark):
    """CMMLU's test questions of the chosen subjects (see the module table)."""

    kind: Literal["cmmlu"] = "cmmlu"
    n: int | None = Field(default=200, ge=1)
    dataset: str = "haonan-li/cmmlu"
    revision: str | None = "refs/convert/parquet"
    subjects: list[str] | None = Field(default=None, min_length=1)

    def load(self) -> pl.DataFrame:
        """Every test question of ``subjects`` (default: every subject present).

        Raises:
            BenchmarkError: a local copy without ``data/test/*.csv``, or a subject it lacks.

        """
        if is_local(self.dataset):
            return cmmlu_items(self._local_rows(Path(self.dataset).expanduser() / "data" / "test"), self.name)
        subjects = self.subjects or self._hub_subjects()
        return cmmlu_items({subject: self.rows(subject, "test") for subject in subjects}, self.name)

    def _local_rows(self, folder: Path) -> dict[str, list[Row]]:
        """Each subject's rows from ``folder/<subject>.csv``."""
        present = sorted(path.stem for path in folder.glob("*.csv"))
        if not present:
            raise BenchmarkError(f"benchmark {self.name!r}: no subject CSVs in {folder}")
        missing = sorted(set(self.subjects or ()) - set(present))
        if missing:
            raise BenchmarkError(f"benchmark {self.name!r}: {folder} has no subject {', '.join(missing)}")
        return {subject: read_subject_csv(folder / f"{subject}.csv") for subject in self.subjects or present}

    def _hub_subjects(self) -> list[str]:
        """Every subject (config) of the Hub dataset at ``revision``."""
        import datasets

        try:
            return sorted(datasets.get_dataset_config_names(self.dataset, revision=self.revision))
        except Exception as error:  # datasets raises many types (connection, gating, missing files)
            raise BenchmarkError(f"benchmark {self.name!r}: cannot list the subjects of {self.dataset!r} "
                                 f"({type(error).__name__}: {error}); name them in `subjects:`") from None  # fmt: skip
