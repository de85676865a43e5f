"""Math benchmarks: every item benign, category ``math``, graded by the ``math`` scorer (math-verify).

``dataset`` is a Hub id (its ``revision`` resolved to a commit, loaded and recorded, as every
:class:`~alttrain.evaluation.hub_benchmarks.HubBenchmark`), a local folder in the Hub set's layout, or one
local file of the rows (the split is the whole file). Each item's prompt is the problem, then
``instruction`` (by default DeepSeek-R1's evaluation instruction to box the final answer; null: the
problem alone); its id is :func:`~alttrain.records.record_id` of the benchmark name and the problem.

==========  ===========================================  ======  ===========================  ===========
kind        Hub dataset (config, split); local copy      items   reference answer             license
==========  ===========================================  ======  ===========================  ===========
``gsm8k``   openai/gsm8k (main, test); a folder or the   1,319   the number after ``####``    MIT
            ``test.jsonl`` of openai/grade-school-math           of ``answer`` (as written)
``math500`` HuggingFaceH4/MATH-500 (test); a folder or   500     ``answer`` (LaTeX)           MIT (PRM800K)
            prm800k's ``math_splits/test.jsonl``
``aime24``  HuggingFaceH4/aime_2024 (train: ``id``,      30      ``answer`` (a string,        none stated
            ``problem``, ``solution``, ``answer``,               e.g. ``"025"``)              (MAA problems)
            ``url``, ``year``); the file of
            AI-MO/aimo-validation-aime's 2024 rows
            (same columns without ``year``)
``mgsm``    juletxara/mgsm: ``mgsm_<language>.tsv``      250     the second column            CC-BY-4.0
            (``question<TAB>answer``, no header, as in  per
            google-research/url-nlp); a folder holding  language
            it, or the file; ``language`` en | zh
==========  ===========================================  ======  ===========================  ===========

Every benchmark takes all its items by default (``n`` null) with ``seed`` 0 for the order; an MGSM
benchmark is named ``mgsm_<language>``. The local copy of AIME 2024 is a file named ``test.jsonl``: give
the file, since a folder's split is named after its file and the Hub set's split is ``train``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

import polars as pl
from pydantic import Field

from alttrain.errors import BenchmarkError
from alttrain.evaluation.benchmarks import to_items
from alttrain.evaluation.hub_benchmarks import HubBenchmark, Row
from alttrain.records import conform, record_id

#: appended to each problem by default: the evaluation instruction of DeepSeek-R1 and its distilled models
BOXED_INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."
ITEM_COLUMNS = ("id", "prompt", "label", "category", "source", "license", "reference_answer")


class MathBenchmark(HubBenchmark):
    """A math benchmark: problems with one reference answer each, all items by default."""

    n: int | None = Field(default=None, ge=1)
    instruction: str | None = BOXED_INSTRUCTION

    @property
    def local(self) -> bool:
        """``dataset`` is a local folder or file rather than a Hub id."""
        return Path(self.dataset).expanduser().exists()

    def math_items(self, rows: Iterable[Row], problem: str, license_: str) -> pl.DataFrame:
        """Map rows onto items graded by ``math``; :meth:`reference` reads each row's reference answer.

        Raises:
            BenchmarkError: a row without the ``problem`` column, or with an empty problem or reference.

        """
        records = []
        for index, row in enumerate(rows):
            if problem not in row:
                raise BenchmarkError(f"benchmark {self.name!r}: row {index} has no {problem!r} ({', '.join(row)})")
            text = str(row[problem] or "").strip()
            reference = self.reference(row, index)
            if not text or not reference:
                empty = "problem" if not text else "reference answer"
                raise BenchmarkError(f"benchmark {self.name!r}: row {index} has an empty {empty}")
            prompt = f"{text}\n\n{self.instruction}" if self.instruction else text
            records.append({"id": record_id(self.name, text), "prompt": prompt, "label": "benign",
                            "category": "math", "source": self.name, "license": license_,
                            "reference_answer": reference})  # fmt: skip
        frame = pl.DataFrame(records, schema=dict.fromkeys(ITEM_COLUMNS, pl.String))
        return to_items(conform(frame, "prompts"), self.name, scorer="math")

    def reference(self, row: Row, index: int) -> str:
        """The row's reference answer: its ``answer`` as text (subclasses read other layouts).

        Raises:
            BenchmarkError: the row has no ``answer``.

        """
        if row.get("answer") is None:
            raise BenchmarkError(f"benchmark {self.name!r}: row {index} has no 'answer'")
        return str(row["answer"]).strip()


class GSM8KBenchmark(MathBenchmark):
    """GSM8K's 1,319 grade-school test problems (MIT); the reference is the number after ``####``."""

    kind: Literal["gsm8k"] = "gsm8k"
    dataset: str = "openai/gsm8k"

    def load(self) -> pl.DataFrame:
        """Every test problem (the Hub set's ``main`` config; a local copy has only that one)."""
        rows = self.rows(None if self.local else "main", "test")
        return self.math_items(rows, "question", "MIT (GSM8K)")

    def reference(self, row: Row, index: int) -> str:
        """The text after the solution's last ``####``.

        Raises:
            BenchmarkError: the solution has no ``####`` line.

        """
        solution = super().reference(row, index)
        if "####" not in solution:
            raise BenchmarkError(f"benchmark {self.name!r}: row {index}'s answer has no '#### <number>' line")
        return solution.rsplit("####", 1)[1].strip()


class Math500Benchmark(MathBenchmark):
    """MATH-500, the 500 test problems of PRM800K's split of MATH (MIT); the reference is ``answer``."""

    kind: Literal["math500"] = "math500"
    dataset: str = "HuggingFaceH4/MATH-500"

    def load(self) -> pl.DataFrame:
        """Every problem of the ``test`` split."""
        return self.math_items(self.rows(None, "test"), "problem", "MIT (MATH-500, openai/prm800k)")


class AIME24Benchmark(MathBenchmark):
    """AIME 2024 I and II, 30 problems (no license stated; MAA problems); the reference is ``answer``."""

    kind: Literal["aime24"] = "aime24"
    dataset: str = "HuggingFaceH4/aime_2024"

    def load(self) -> pl.DataFrame:
        """Every problem of the ``train`` split (the set's only one)."""
        return self.math_items(self.rows(None, "train"), "problem", "none stated (AIME 2024, MAA problems)")


class MGSMBenchmark(MathBenchmark):
    """MGSM: 250 GSM8K test problems translated by people (CC-BY-4.0), in ``language``."""

    kind: Literal["mgsm"] = "mgsm"
    dataset: str = "juletxara/mgsm"
    language: Literal["en", "zh"] = "en"

    @property
    def name(self) -> str:
        """``mgsm_<language>``."""
        return f"mgsm_{self.language}"

    def load(self) -> pl.DataFrame:
        """Every row of ``mgsm_<language>.tsv`` (two columns, no header, no quoting), answers kept as text."""
        import datasets

        columns = ["question", "answer"]
        features = datasets.Features({name: datasets.Value("string") for name in columns})
        rows = self.rows(None, "train", data_files=f"mgsm_{self.language}.tsv", delimiter="\t",
                         names=columns, features=features, quoting=csv.QUOTE_NONE, keep_default_na=False)  # fmt: skip
        return self.math_items(rows, "question", "CC-BY-4.0 (MGSM)")
