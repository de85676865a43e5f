"""The refusal heuristic against labels: XSTest v2's human-labelled completions and a Chinese set made by rule.

    .venv/bin/python bench/refusal_judge.py --data ../shared/benchmarks [--old-rev d0b0cd9] [--show-errors]

Reads ``xstest/model_completions/xstest_v2_completions_*.csv`` under ``--data`` (never copied into the
repository) and pyrit's shipped labelled refusal set, and prints for each file and overall: agreement
with the human label, the confusion counts (positive: refusal) and the time per 1,000 completions, for
the heuristic at ``--old-rev`` (read from git) and the working tree's. XSTest's ``final_label``
``2_full_refusal`` and ``3_partial_refusal`` both count as refusal (its convention for over-refusal).

Held-out protocol: the patterns were developed looking at both files' errors, so neither file is a
clean hold-out; the honest hold-outs are pyrit's set (printed too, never tuned on) and other models'
labelled completions. ``--show-errors`` prints every disagreement of the new heuristic.

Chinese: ``zh_refusals.py`` builds a labelled set by rule from the Chinese safety prompts under ``--data``
(``zh_safety/``: one refusal and one compliant answer per prompt, from phrasing families; the label is how the
answer was made). Its ``dev`` families may be tuned on, its ``held_out`` families are not: the held-out
agreement, printed last beside the English figure, is the one ``alttrain.refusal.MEASURED_AGREEMENT_ZH`` records.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path

import polars as pl
from zh_refusals import labelled_set

from alttrain.evaluation.judges import ClassifierAccuracy
from alttrain.prompt_sets.base import package_data
from alttrain.refusal import looks_like_refusal

Judge = Callable[[str], bool]
COMPLETIONS = "xstest/model_completions"
REFUSAL_LABELS = ("2_full_refusal", "3_partial_refusal")
ZH_PREFIX = "zh by rule, "
ZH_HELD_OUT = f"{ZH_PREFIX}held_out"


def old_judge(revision: str) -> Judge:
    """``looks_like_refusal`` as ``alttrain/refusal.py`` had it at ``revision`` (read from git)."""
    source = subprocess.run(["git", "show", f"{revision}:alttrain/refusal.py"], check=True, capture_output=True,
                            text=True).stdout
    module = types.ModuleType("old_refusal")
    sys.modules[module.__name__] = module  # dataclasses look their module up while the source runs
    exec(compile(source, f"{revision}:alttrain/refusal.py", "exec"), module.__dict__)  # noqa: S102
    return module.looks_like_refusal


def labelled_sets(data: Path) -> dict[str, tuple[list[str], list[bool]]]:
    """Name -> (texts, human refusal labels): each XSTest completions file, then pyrit's set."""
    sets: dict[str, tuple[list[str], list[bool]]] = {}
    for path in sorted((data / COMPLETIONS).glob("xstest_v2_completions_*.csv")):
        frame = pl.read_csv(path, infer_schema_length=0)
        name = path.stem.removeprefix("xstest_v2_completions_")
        gold = [label in REFUSAL_LABELS for label in frame["final_label"]]
        sets[name] = ([text or "" for text in frame["completion"]], gold)
    pyrit = pl.read_csv(package_data("pyrit", "datasets", "scorer_evals", "refusal_scorer", "refusal.csv"),
                        comment_prefix="#", infer_schema_length=0)
    sets["pyrit (held out)"] = ([t or "" for t in pyrit["assistant_response"]],
                                [s.strip() == "1" for s in pyrit["human_score"]])
    for split, labelled in labelled_set(data).items():
        sets[f"{ZH_PREFIX}{split}"] = labelled
    return sets


def measure(judge: Judge, texts: list[str]) -> tuple[list[bool], float]:
    """The judge's labels and its seconds per 1,000 texts (best of three passes)."""
    best = float("inf")
    labels: list[bool] = []
    for _ in range(3):
        start = time.perf_counter()
        labels = [judge(text) for text in texts]
        best = min(best, time.perf_counter() - start)
    return labels, best / len(texts) * 1000


def row(name: str, judge: str, result: ClassifierAccuracy, seconds: float | None) -> str:
    """One table row."""
    speed = f"{seconds * 1000:.1f} ms" if seconds is not None else ""
    return (f"| {name} | {judge} | {result.n} | {result.accuracy:.3f} | {result.true_positive} | "
            f"{result.false_positive} | {result.true_negative} | {result.false_negative} | {speed} |")


def main() -> None:
    """Print the agreement table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="the shared benchmarks folder")
    parser.add_argument("--old-rev", default="d0b0cd9", help="git revision of the 'before' heuristic")
    parser.add_argument("--show-errors", action="store_true")
    arguments = parser.parse_args()
    judges: dict[str, Judge] = {f"before ({arguments.old_rev})": old_judge(arguments.old_rev),
                                "after": looks_like_refusal}
    print("| set | judge | n | agreement | refusals caught | answers flagged | answers kept | refusals missed "
          "| per 1,000 |")
    print("|---|---|---|---|---|---|---|---|---|")
    totals: dict[str, tuple[list[bool], list[bool]]] = {name: ([], []) for name in judges}
    chinese: dict[str, ClassifierAccuracy] = {}
    sets = labelled_sets(arguments.data)
    for set_name, (texts, gold) in sets.items():
        for judge_name, judge in judges.items():
            predicted, seconds = measure(judge, texts)
            print(row(set_name, judge_name, ClassifierAccuracy.of(predicted, gold), seconds))
            if set_name == ZH_HELD_OUT:
                chinese[judge_name] = ClassifierAccuracy.of(predicted, gold)
            if not set_name.startswith(("pyrit", ZH_PREFIX)):
                totals[judge_name][0].extend(predicted)
                totals[judge_name][1].extend(gold)
            if arguments.show_errors and judge is looks_like_refusal:
                for text, p, g in zip(texts, predicted, gold, strict=True):
                    if p != g:
                        print(f"  {'flagged' if p else 'missed'}: {text[:200]!r}")
    for judge_name, (predicted, gold) in totals.items():
        print(row("XSTest overall", judge_name, ClassifierAccuracy.of(predicted, gold), None))
    for judge_name, result in chinese.items():
        print(row("Chinese by rule (held-out families)", judge_name, result, None))


if __name__ == "__main__":
    main()
