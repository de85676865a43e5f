"""Every benchmark loaded from the real copies, and each scorer checked against its reference library.

Run: ``python bench/eval_real.py --data ../shared/benchmarks [--only gsm8k cmmlu]``. For each case (a benchmark
kind, or a name whose config carries ``kind``; paths relative to ``--data``) it loads every item (``n: null``).
Safety sets (no scorer) are loaded and counted per label. For a capability set it builds a fixed answer
file (per item: a correct answer phrased as a model would, a format variant of it, a wrong answer and an
empty, cut-off one), scores each answer with alttrain (``apply_scorers``, the eval stage's path) and with
the reference library called directly (``REFERENCES``; a scorer without one, and the empty answer, which
alttrain never counts correct, are checked against the answer's expected outcome), and prints one row per
benchmark: items, answers, agreement, the accuracy (binary scorers) or mean score (graded ones) of the
correct and of the wrong answers, and load and score seconds. Exit 1, listing the disagreements, when any
answer's scores differ. ``--out DIR`` writes each benchmark's scored answers as ``<kind>.answers.jsonl``.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
from math_verify import parse, verify
from pydantic import TypeAdapter
from rouge_score import rouge_scorer
from torchmetrics.functional.text import squad as torchmetrics_squad

from alttrain.evaluation.config import BenchmarkConfig
from alttrain.evaluation.scorers.apply import apply_scorers

Reference = Callable[[str, list[str]], tuple[bool | None, float | None]]
#: a scorer's answers for one item: (answer, expected correct) from the item's reference and another item's
Phrasing = Callable[[str, str], list[tuple[str, bool | None]]]

CASES: dict[str, dict[str, Any]] = {
    "gsm8k": {"dataset": "gsm8k/test.jsonl"},
    "math500": {"dataset": "math500"},
    "aime24": {"dataset": "aime24/test.jsonl"},
    "mgsm_en": {"kind": "mgsm", "dataset": "mgsm", "language": "en"},
    "mgsm_zh": {"kind": "mgsm", "dataset": "mgsm", "language": "zh"},
    "nq_open": {"dataset": "nq_open"},
    "summarization": {"layout": "xsum", "dataset": "summarization/xsum"},
    "cmmlu": {"dataset": "cmmlu"},
    "strongreject": {"dataset": "strongreject/strongreject_dataset.csv"},
    "xstest": {"dataset": "xstest/xstest_prompts.csv", "include_unsafe": True},
    "harmbench": {
        "path": "harmbench/harmbench_behaviors_text_all.csv",
        "functional_categories": ["standard", "contextual", "copyright"],
    },
}
PATH_KEYS = ("dataset", "path")


def math_verify_reference(answer: str, references: list[str]) -> tuple[bool | None, float | None]:
    """math-verify called directly: each reference parsed as ``$...$``, the answer parsed whole."""
    return any(verify(parse(f"${reference}$"), parse(answer)) for reference in references), None


def squad_reference(answer: str, references: list[str]) -> tuple[bool | None, float | None]:
    """torchmetrics' SQuAD exact match and F1 (it reports percentages) of the whole answer."""
    result = torchmetrics_squad(
        {"prediction_text": answer, "id": "0"},
        {"answers": {"answer_start": [0] * len(references), "text": references}, "id": "0"},
    )
    return bool(result["exact_match"] == 100.0), float(result["f1"]) / 100.0


def rouge_l_reference(answer: str, references: list[str]) -> tuple[bool | None, float | None]:
    """rouge-score's ROUGE-L F1 against the best reference."""
    return None, rouge_scorer.RougeScorer(["rougeL"]).score_multi(references, answer)["rougeL"].fmeasure


REFERENCES: dict[str, Reference] = {
    "math": math_verify_reference, "squad": squad_reference, "rouge_l": rouge_l_reference,
}
NUMBER = re.compile(r"-?\d[\d,]*(\.\d+)?")


#: the sentences of the math answers: correct (boxed), a variant with the number plain or the expression in
#: ``$...$``, and wrong (boxed); ``{answer}`` / ``{plain}`` are filled in per item
MATH_WORDING = {
    "correct": "Working through each step, the result follows.\n\nSo the answer is $\\boxed{{{answer}}}$.",
    "plain": "Adding it all up, the total comes to {plain} in the end.",
    "expression": "Therefore, the answer is ${answer}$.",
    "wrong": "After checking once more, the final answer is $\\boxed{{{answer}}}$.",
}


def math_answers(wording: dict[str, str]) -> Phrasing:
    """Boxed correct, a format variant (thousands separators, or plain ``$...$``), a wrong one, and empty."""

    def answers(reference: str, other: str) -> list[tuple[str, bool | None]]:
        if NUMBER.fullmatch(reference):
            value = float(reference.replace(",", ""))
            plain = f"{value:,.0f}" if value.is_integer() else f"{value:,}"
            wrong = f"{value + 1:.0f}" if value.is_integer() else f"{value + 1}"
            variant = wording["plain"].format(plain=plain)
        else:
            wrong, variant = other, wording["expression"].format(answer=reference)
        return [(wording["correct"].format(answer=reference), True), (variant, True),
                (wording["wrong"].format(answer=wrong), False), ("", False)]  # fmt: skip

    return answers


def _letter_answers(reference: str, other: str) -> list[tuple[str, bool | None]]:
    wrong = "ABCD"[("ABCD".index(reference) + 1) % 4]
    return [(f"分析各个选项后，{reference} 项符合题意。\n\n答案：{reference}", True),
            (f"The correct option is ({reference}), since the others do not fit. \\boxed{{{reference}}}", True),
            (f"答案：{wrong}", False), ("", False)]  # fmt: skip


PHRASINGS: dict[str, Phrasing] = {
    "math": math_answers(MATH_WORDING),
    "squad": lambda reference, other: [(reference, True), (f"The {reference.upper()}.", True), (other, False),
                                       ("", False)],
    "rouge_l": lambda reference, other: [(reference, None), (f"Here is a one-sentence summary:\n\n{reference}", None),
                                         (other, None), ("", None)],
    "letter": _letter_answers,
}  # fmt: skip


def answer_file(items: pl.DataFrame, phrasings: dict[str, Phrasing] = PHRASINGS) -> pl.DataFrame:
    """Each item's answers (``phrasings`` of its scorer; the wrong one borrows the next item's reference)."""
    references = items["reference_answer"].to_list()
    rows = []
    for index, item in enumerate(items.iter_rows(named=True)):
        other = references[(index + 1) % len(references)]
        for variant, (answer, expected) in enumerate(phrasings[item["scorer"]](item["reference_answer"], other)):
            rows.append({**item, "variant": variant, "answer": answer, "expected": expected,
                         "wrong": variant == 2, "answer_correct": None, "answer_check": "none"})  # fmt: skip
    return pl.DataFrame(rows, schema_overrides={"answer_correct": pl.Boolean, "expected": pl.Boolean})


def agree(ours: tuple[bool | None, float | None], theirs: tuple[bool | None, float | None]) -> bool:
    """Same correctness and the same score (to float32 precision: torchmetrics computes in float32)."""
    if ours[0] != theirs[0] or (ours[1] is None) != (theirs[1] is None):
        return False
    return ours[1] is None or abs(ours[1] - theirs[1]) <= 1e-6  # type: ignore[operator]


def run_case(
    kind: str, config: dict[str, Any], data: Path, phrasings: dict[str, Phrasing] = PHRASINGS
) -> tuple[dict[str, Any], list[str], pl.DataFrame]:
    """Load, answer (``phrasings``) and score one benchmark: its table row, its disagreements and its scored answers."""
    fields = {"kind": kind, **config, "n": None}
    fields.update({key: str(data / fields[key]) for key in PATH_KEYS if key in fields})
    benchmark = TypeAdapter(BenchmarkConfig).validate_python(fields)
    started = time.perf_counter()
    items = benchmark.load()
    load_s = time.perf_counter() - started
    if items["scorer"].is_null().all():  # a safety set: loaded and counted
        labels = ", ".join(f"{label} {count}" for label, count in items["label"].value_counts().sort("label").rows())
        return {"benchmark": benchmark.name, "scorer": f"- ({labels})", "items": items.height,
                "load s": round(load_s, 2)}, [], items  # fmt: skip
    answers = answer_file(items, phrasings)
    started = time.perf_counter()
    scored = apply_scorers(answers)
    score_s = time.perf_counter() - started
    disagreements = []
    for row in scored.iter_rows(named=True):
        ours = (row["answer_correct"], row["score"])
        reference = REFERENCES.get(row["scorer"])
        if reference is None or not row["answer"]:  # alttrain's own rule: no letter, or no answer, is wrong
            theirs = (row["expected"], None if ours[1] is None else 0.0 if not row["answer"] else ours[1])
        else:
            theirs = reference(row["answer"], row["references"])
        if not agree(ours, theirs):
            disagreements.append(f"{kind} {row['id']} variant {row['variant']}: alttrain {ours}, reference {theirs} "
                                 f"for {row['answer'][:80]!r}")  # fmt: skip
    binary = scored["answer_correct"].is_not_null().any()
    measure = "answer_correct" if binary else "score"

    def mean(wrong: bool) -> float:
        return float(scored.filter(pl.col("wrong") == wrong, pl.col("answer") != "")[measure].cast(pl.Float64).mean())

    row = {"benchmark": benchmark.name, "scorer": scored["scorer"][0], "items": items.height,
           "answers": scored.height, "agree": scored.height - len(disagreements), "measure": measure,
           "right answers": round(mean(False), 4), "wrong answers": round(mean(True), 4),
           "load s": round(load_s, 2), "score s": round(score_s, 2)}  # fmt: skip
    return row, disagreements, scored


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="the folder of benchmark copies")
    parser.add_argument("--out", type=Path, default=None, help="write each benchmark's scored answers here")
    parser.add_argument("--only", nargs="*", default=None, help="benchmark kinds to run (default: every case)")
    args = parser.parse_args()
    table, disagreements = [], []
    for kind, config in CASES.items():
        if args.only and kind not in args.only:
            continue
        row, disagreed, scored = run_case(kind, config, args.data)
        table.append(row)
        disagreements += disagreed
        if args.out is not None:
            args.out.mkdir(parents=True, exist_ok=True)
            scored.drop("prompt").write_ndjson(args.out / f"{kind}.answers.jsonl")
    with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_width_chars=200, tbl_hide_dataframe_shape=True, fmt_str_lengths=40):
        print(pl.DataFrame(table, infer_schema_length=None))
    for line in disagreements[:20]:
        print(line)
    if disagreements:
        print(f"{len(disagreements)} answers where alttrain and the reference disagree", file=sys.stderr)
        return 1
    print("alttrain's scores equal the reference scorers' on every answer")
    return 0


if __name__ == "__main__":
    sys.exit(main())
