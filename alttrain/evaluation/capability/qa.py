"""Open-domain question answering: NQ-open, graded by SQuAD v1.1 exact match and F1 (scorer ``squad``).

===========  ==========================================  ============  ============  =======  ====
kind         data (split)                                license       items         n        seed
===========  ==========================================  ============  ============  =======  ====
``nq_open``  google-research-datasets/nq_open            CC BY-SA 3.0  3,610         200      0
             (config ``nq_open``, ``validation``), or a
             local folder holding ``NQ-open.dev.jsonl``
             (or a Hub snapshot's ``nq_open`` folder)
===========  ==========================================  ============  ============  =======  ====

Rows carry ``question`` (lower case, no question mark) and ``answer`` (every acceptable answer, a list);
the item's ``references`` are all of them, its ``reference_answer`` the first. The prompt asks for the
short answer only; the scorer reads it out of the final answer (:func:`alttrain.evaluation.scorers.squad.short_answer`).
"""

from __future__ import annotations

from typing import Literal

import polars as pl
from pydantic import Field

from alttrain.errors import BenchmarkError
from alttrain.evaluation.benchmarks import to_items
from alttrain.evaluation.capability.sources import config_name
from alttrain.evaluation.hub_benchmarks import HubBenchmark, Row
from alttrain.records import conform, record_id

NQ_OPEN_LICENSE = "CC BY-SA 3.0 (Natural Questions)"


def nq_open_prompt(question: str) -> str:
    """The prompt of one NQ-open question."""
    ask = "Answer with the short answer only: a name, a date, a number or a few words."
    return f"{question.strip().rstrip('?')}?\n\n{ask}"


def nq_open_items(rows: list[Row], benchmark: str) -> pl.DataFrame:
    """Map NQ-open rows onto evaluation items scored by ``squad``.

    Raises:
        BenchmarkError: a row without a question or without any answer.

    """
    records = []
    for index, row in enumerate(rows):
        question = str(row.get("question") or "").strip()
        answers = [str(answer) for answer in row.get("answer") or [] if str(answer).strip()]
        if not question or not answers:
            raise BenchmarkError(f"benchmark {benchmark!r}: row {index} has no question or no answer")
        records.append(
            {"id": record_id(benchmark, question), "prompt": nq_open_prompt(question), "label": "benign",
             "category": "qa", "source": benchmark, "license": NQ_OPEN_LICENSE, "reference_answer": answers[0],
             "references": answers}
        )  # fmt: skip
    schema = {**dict.fromkeys(("id", "prompt", "label", "category", "source", "license", "reference_answer"),
                              pl.String), "references": pl.List(pl.String)}  # fmt: skip
    return to_items(conform(pl.DataFrame(records, schema=schema), "prompts"), benchmark, scorer="squad")


class NqOpenBenchmark(HubBenchmark):
    """NQ-open's 3,610 validation questions with every acceptable short answer (see the module table)."""

    kind: Literal["nq_open"] = "nq_open"
    n: int | None = Field(default=200, ge=1)
    dataset: str = "google-research-datasets/nq_open"

    def load(self) -> pl.DataFrame:
        """Every validation question."""
        return nq_open_items(self.rows(config_name(self.dataset, "nq_open"), "validation"), self.name)
