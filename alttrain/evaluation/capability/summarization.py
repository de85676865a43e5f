"""News summarization: CNN/DailyMail or XSum, graded by ROUGE-L F1 (scorer ``rouge_l``, or ``rouge_l_zh``).

===================  =============================  =========================  =========  ====  ====
kind (``layout``)    data (split ``test``)          license                    items      n     seed
===================  =============================  =========================  =========  ====  ====
``summarization``    abisee/cnn_dailymail           Apache-2.0 (CNN/DailyMail)  11,490    100   0
(``cnn_dailymail``)  (config ``3.0.0``)
``summarization``    EdinburghNLP/xsum at           CC BY-SA 4.0 (XSum)         11,334    100   0
(``xsum``)           ``refs/convert/parquet``
===================  =============================  =========================  =========  ====  ====

XSum's Hub repository has held a loading script that ``datasets`` no longer runs, so its default revision
is the Hub's parquet export. ``dataset`` is the Hub id (default: the layout's, with its revision) or a local
folder of one config's files (an XSum ``test.jsonl``; the ``3.0.0`` folder of a CNN/DailyMail Hub snapshot,
whose commit is then recorded). The layout names the columns:
``article``/``highlights``/``id`` (CNN/DailyMail) or ``document``/``summary``/``id`` (XSum, ``id`` an integer
in some copies: kept as its string). The prompt asks for a one-sentence (XSum) or few-sentence (CNN/DailyMail)
summary; the reference is the dataset's. ``scorer: rouge_l_zh`` grades Chinese summaries per character.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import polars as pl
from pydantic import Field, model_validator

from alttrain.errors import BenchmarkError
from alttrain.evaluation.benchmarks import to_items
from alttrain.evaluation.capability.sources import config_name
from alttrain.evaluation.hub_benchmarks import HubBenchmark, Row
from alttrain.records import conform

Layout = Literal["xsum", "cnn_dailymail"]


@dataclass(frozen=True)
class _LayoutSpec:
    """One layout's Hub dataset, revision and config, license, columns and the summary length its prompt asks."""

    hub: str
    revision: str | None
    config: str | None
    license: str
    document: str
    summary: str
    length: str


LAYOUTS: dict[str, _LayoutSpec] = {
    "xsum": _LayoutSpec("EdinburghNLP/xsum", "refs/convert/parquet", None, "CC BY-SA 4.0 (XSum)", "document",
                        "summary", "one sentence"),
    "cnn_dailymail": _LayoutSpec("abisee/cnn_dailymail", None, "3.0.0", "Apache-2.0 (CNN/DailyMail)", "article",
                                 "highlights", "three or four sentences"),
}  # fmt: skip


def summarization_prompt(document: str, length: str) -> str:
    """The prompt of one article."""
    return f"Summarize the following news article in {length}.\n\nArticle:\n{document.strip()}\n\nSummary:"


def summarization_items(rows: list[Row], benchmark: str, layout: Layout, scorer: str) -> pl.DataFrame:
    """Map rows of ``layout`` onto evaluation items graded by ``scorer``.

    Raises:
        BenchmarkError: a row without its article, reference summary or id.

    """
    spec = LAYOUTS[layout]
    records = []
    for index, row in enumerate(rows):
        document, summary = str(row.get(spec.document) or ""), str(row.get(spec.summary) or "").strip()
        if not document.strip() or not summary or row.get("id") in (None, ""):
            raise BenchmarkError(
                f"benchmark {benchmark!r}: row {index} lacks {spec.document!r}, {spec.summary!r} or 'id' "
                f"(layout {layout!r})"
            )
        records.append(
            {"id": str(row["id"]), "prompt": summarization_prompt(document, spec.length), "label": "benign",
             "category": "summarization", "source": benchmark, "license": spec.license, "reference_answer": summary}
        )  # fmt: skip
    columns = ("id", "prompt", "label", "category", "source", "license", "reference_answer")
    frame = pl.DataFrame(records, schema=dict.fromkeys(columns, pl.String))
    return to_items(conform(frame, "prompts"), benchmark, scorer=scorer)


class SummarizationBenchmark(HubBenchmark):
    """A news summarization test set in the CNN/DailyMail or XSum layout (see the module table)."""

    kind: Literal["summarization"] = "summarization"
    n: int | None = Field(default=100, ge=1)
    layout: Layout = "cnn_dailymail"
    scorer: Literal["rouge_l", "rouge_l_zh"] = "rouge_l"

    @model_validator(mode="before")
    @classmethod
    def _layout_dataset(cls, data: Any) -> Any:
        """``dataset`` defaults to the layout's Hub id, and then ``revision`` to the layout's."""
        spec = LAYOUTS.get(data.get("layout") or "cnn_dailymail") if isinstance(data, dict) else None
        if spec is None or data.get("dataset") is not None:  # an unknown layout fails the field's validation
            return data
        return {"revision": spec.revision, **data, "dataset": spec.hub}

    def load(self) -> pl.DataFrame:
        """Every article of the ``test`` split."""
        rows = self.rows(config_name(self.dataset, LAYOUTS[self.layout].config), "test")
        return summarization_items(rows, self.name, self.layout, self.scorer)
