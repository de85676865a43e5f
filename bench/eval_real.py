"""Every benchmark loader and reference scorer on the real copies in ``../shared/benchmarks``.

    .venv/bin/python bench/eval_real.py --data ../shared/benchmarks [--only gsm8k,math500]

For each case of :data:`CASES` (a benchmark kind, or a name whose kwargs carry ``kind``, with its config
kwargs; ``dataset``/``path`` relative to ``--data``) it loads every item (``n: null``). A benchmark whose
items name a scorer gets a fixed answer file built from its references, three answers per item: a correct
one phrased as a model would (boxed), a format variant of it (numbers with thousands separators, LaTeX in
plain ``$...$``) and a wrong one. Each answer is scored by alttrain (:func:`apply_scorers`, the eval
stage's path) and by the reference library called directly (:data:`REFERENCES`); they must agree, else
the disagreements are printed and the bench exits 1. It prints per benchmark: items loaded, answers
scored, agreement, the accuracy of the correct, variant and wrong answers, load and score seconds.
Safety sets are loaded and counted only (they have no reference scorer).
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

from alttrain.evaluation.config import BenchmarkConfig
from alttrain.evaluation.scorers.apply import apply_scorers

#: case name -> config kwargs of its benchmark (``kind`` defaults to the name; paths relative to ``--data``)
CASES: dict[str, dict[str, Any]] = {
    "gsm8k": {"dataset": "gsm8k/test.jsonl"},
    "math500": {"dataset": "math500"},
    "aime24": {"dataset": "aime24/test.jsonl"},
    "mgsm_en": {"kind": "mgsm", "dataset": "mgsm", "language": "en"},
    "mgsm_zh": {"kind": "mgsm", "dataset": "mgsm", "language": "zh"},
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


#: scorer name -> the reference library's own verdict (correct, graded score) on (answer, references)
REFERENCES: dict[str, Callable[[str, list[str]], tuple[bool | None, float | None]]] = {
    "math": math_verify_reference,
}
NUMBER = re.compile(r"-?\d[\d,]*(\.\d+)?")


def answers_for(references: list[str], other: str) -> dict[str, str]:
    """The three fixed answers to one item: correct (boxed), its format variant, and wrong."""
    reference = references[0]
    if NUMBER.fullmatch(reference):
        value = float(reference.replace(",", ""))
        plain = f"{value:,.0f}" if value.is_integer() else f"{value:,}"
        wrong = f"{value + 1:.0f}" if value.is_integer() else f"{value + 1}"
        variant = f"Adding it all up, the total comes to {plain} in the end."
    else:
        wrong = other
        variant = f"Therefore, the answer is ${reference}$."
    return {
        "correct": f"Working through each step, the result follows.\n\nSo the answer is $\\boxed{{{reference}}}$.",
        "variant": variant,
        "wrong": f"After checking the arithmetic once more, the final answer is $\\boxed{{{wrong}}}$.",
    }


def answer_file(items: pl.DataFrame) -> pl.DataFrame:
    """One row per (item, kind of answer): ``answer``, ``scorer``, ``references``, ``kind``."""
    rows = []
    references = items["references"].to_list()
    for index, (item_id, scorer, refs) in enumerate(zip(items["id"], items["scorer"], references, strict=True)):
        other = next((r[0] for r in references[index + 1 :] + references[:index] if r[0] != refs[0]), "0")
        for kind, answer in answers_for(refs, other).items():
            rows.append({"id": item_id, "kind": kind, "answer": answer, "scorer": scorer, "references": refs})
    frame = pl.DataFrame(rows, schema={"id": pl.String, "kind": pl.String, "answer": pl.String,
                                       "scorer": pl.String, "references": pl.List(pl.String)})  # fmt: skip
    return frame.with_columns(
        pl.lit(None, pl.Boolean).alias("answer_correct"), pl.lit(None, pl.String).alias("answer_check")
    )


def run_case(name: str, kwargs: dict[str, Any], data: Path) -> tuple[dict[str, Any], list[str]]:
    """Load one benchmark and, when its items name a scorer, score its answer file both ways."""
    config = {"kind": name, **kwargs, "n": None}
    config.update({key: str(data / config[key]) for key in PATH_KEYS if key in config})
    benchmark = TypeAdapter(BenchmarkConfig).validate_python(config)
    started = time.perf_counter()
    items = benchmark.load()
    line: dict[str, Any] = {"benchmark": benchmark.name, "items": items.height,
                            "load_s": time.perf_counter() - started}  # fmt: skip
    scored_items = items.filter(pl.col("scorer").is_not_null())
    if scored_items.is_empty():
        labels = items["label"].value_counts().sort("label").rows()
        return {**line, "labels": ", ".join(f"{label} {count}" for label, count in labels)}, []
    answers = answer_file(scored_items)
    started = time.perf_counter()
    ours = apply_scorers(answers)
    line["score_s"] = time.perf_counter() - started
    disagreements = []
    for row in ours.iter_rows(named=True):
        expected = REFERENCES[row["scorer"]](row["answer"], row["references"])
        if (row["answer_correct"], row["score"]) != expected:
            ours_verdict = (row["answer_correct"], row["score"])
            disagreements.append(f"{benchmark.name} {row['id']} {row['kind']}: alttrain {ours_verdict} vs "
                                 f"reference {expected}: {row['answer']!r}")  # fmt: skip
    accuracy = ours.group_by("kind").agg(pl.col("answer_correct").cast(pl.Float64).mean())
    by_kind = dict(accuracy.rows())
    line.update(answers=ours.height, agreement=1 - len(disagreements) / ours.height,
                correct=by_kind["correct"], variant=by_kind["variant"], wrong=by_kind["wrong"])  # fmt: skip
    return line, disagreements


def main() -> None:
    """Run every case (or those of ``--only``) and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="the folder of the real benchmark copies")
    parser.add_argument("--only", default="", help="comma-separated case names (default: every case)")
    arguments = parser.parse_args()
    names = [name for name in arguments.only.split(",") if name] or list(CASES)
    lines, disagreements = [], []
    for name in names:
        line, disagreed = run_case(name, CASES[name], arguments.data)
        lines.append(line)
        disagreements += disagreed
    print("| benchmark | items | answers | agreement | acc correct | acc variant | acc wrong | load s | score s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for line in lines:
        if "answers" not in line:
            print(f"| {line['benchmark']} | {line['items']} ({line['labels']}) | - | - | - | - | - | "
                  f"{line['load_s']:.2f} | - |")  # fmt: skip
            continue
        print(f"| {line['benchmark']} | {line['items']} | {line['answers']} | {line['agreement']:.4f} | "
              f"{line['correct']:.3f} | {line['variant']:.3f} | {line['wrong']:.3f} | {line['load_s']:.2f} | "
              f"{line['score_s']:.1f} |")  # fmt: skip
    if disagreements:
        print(f"\n{len(disagreements)} disagreements:", *disagreements, sep="\n")
        sys.exit(1)


if __name__ == "__main__":
    main()
