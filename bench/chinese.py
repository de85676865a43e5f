"""Chinese end to end: the bilingual pipeline on the real Chinese sets, fixed answers on CMMLU and MGSM-zh.

Run: ``python bench/chinese.py --data ../shared/benchmarks [--run-dir DIR]``. Content warning: the prompt pool
holds real harmful requests (Flames, XSafety zh, HarmBench, AdvBench) as data; the template teacher pairs them
only with refusals, and the example printed below is a math solution and the opening of a refusal.

1. **Pipeline**: ``configs/bilingual.yaml`` with every source's ``data_dir`` set to ``--data`` (read in place,
   never copied), stages prompts -> synthesize -> curate -> datasheet with the template teacher, offline, in
   ``--run-dir`` (default: a temporary directory). Per language (the ``language`` column synthesis writes):
   prompts, synthesized ok / quarantined, curated harmful / benign, the structure validity rate of the ok
   traces (the config's shared validator, each row in its language's markers) and tokens per trace (median,
   mean; the default regex counter, one token per CJK character). Then one benign and one harmful Chinese
   trace (the latter without the request it quotes).
2. **Scorers**: every CMMLU and MGSM-zh item from the real copies, answered by fixed answers in Chinese
   phrasing (correct, a correct variant, a wrong one, empty) and scored as ``bench/eval_real.py`` does
   (its ``run_case``, with the Chinese phrasings here); agreement with math-verify for MGSM (CMMLU's letter
   rule has no reference library: checked against how each answer was made).
3. **Refusal judge**: the recorded English and Chinese agreement (``alttrain.refusal``).

Each part is timed. Exit 1 when a scorer disagrees with its reference.

Measured 2026-12-07 (2-core CPU): 160 prompts per language, none quarantined; curated en 43 harmful / 48 benign,
zh 57 / 52; structure validity 1.0 in both; tokens per trace median 189 / mean 205.7 (en), 268.5 / 270.4 (zh);
CMMLU (1,261 items) and MGSM-zh (250) right answers 1.0, wrong 0.0, MGSM agreeing with math-verify on all 1,000
answers; pipeline 7.8 s, scoring 2.9 s.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import polars as pl
import yaml
from eval_real import CASES, PHRASINGS, Phrasing, math_answers, run_case

from alttrain.config import RunConfig, parse_config, write_resolved
from alttrain.languages import CHINESE, DEFAULT_LANGUAGE
from alttrain.measures import TokenizerConfig, make_counter
from alttrain.pipeline import StageOutcome, run_stage, stage_named
from alttrain.refusal import MEASURED_AGREEMENT, MEASURED_AGREEMENT_ZH

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "bilingual.yaml"
LANGUAGES = (DEFAULT_LANGUAGE, CHINESE)
STAGES = ("prompts", "synthesize", "curate", "datasheet")  # the config's defaults would also train and evaluate
ELIDED = "（所引用的请求从略）"  # the harmful example's quoted request, left out of the output
TABLE = {"tbl_rows": -1, "tbl_cols": -1, "tbl_width_chars": 200, "tbl_hide_dataframe_shape": True}


def bilingual_config(data: Path) -> RunConfig:
    """``configs/bilingual.yaml`` with every file source reading from ``data``."""
    raw = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    for source in raw["prompts"]["sources"]:
        if "data_dir" in source:
            source["data_dir"] = str(data.resolve())
    return parse_config(raw, origin=str(CONFIG))


def run_bilingual(config: RunConfig, run_dir: Path) -> list[StageOutcome]:
    """The data stages (:data:`STAGES`) of ``config`` in ``run_dir``, each run afresh."""
    write_resolved(config, run_dir)
    return [run_stage(stage_named(name), config, run_dir, force=True) for name in STAGES]


def language_table(config: RunConfig, run_dir: Path) -> pl.DataFrame:
    """One row per language: prompts, synthesis outcome, curated counts, structure validity and trace tokens."""
    prompts = pl.read_parquet(run_dir / "prompts.parquet")
    synthesized = pl.read_parquet(run_dir / "synthesized.parquet")
    curated = pl.read_parquet(run_dir / "curated.parquet")
    ok = synthesized.filter(pl.col("status") == "ok")
    ok = ok.with_columns(
        make_counter(TokenizerConfig()).count("trace").alias("trace_tokens"),
        pl.Series("valid", [
            not config.structure.validate(row["trace"], row["label"], row["mode"], row["language"])
            for row in ok.iter_rows(named=True)
        ]),
    )  # fmt: skip
    prompt_ids = synthesized.select("id", "language")
    rows = []
    for language in LANGUAGES:
        mine = ok.filter(pl.col("language") == language)
        chosen = curated.filter(pl.col("language") == language)
        rows.append({
            "language": language,
            "prompts": prompts.join(prompt_ids.filter(pl.col("language") == language), on="id").height,
            "synth ok": mine.height,
            "quarantined": synthesized.filter(pl.col("language") == language, pl.col("status") != "ok").height,
            "curated harmful": chosen.filter(pl.col("label") == "harmful").height,
            "curated benign": chosen.filter(pl.col("label") == "benign").height,
            "structure valid": round(float(mine["valid"].mean() or 0.0), 4),
            "tokens median": mine["trace_tokens"].median(),
            "tokens mean": round(float(mine["trace_tokens"].mean() or 0.0), 1),
        })  # fmt: skip
    return pl.DataFrame(rows)


def chinese_examples(config: RunConfig, run_dir: Path) -> tuple[str, str]:
    """The first ok Chinese benign (MGSM) trace, and the first harmful one with its quoted request left out."""
    synthesized = pl.read_parquet(run_dir / "synthesized.parquet")
    ok = synthesized.filter(pl.col("status") == "ok", pl.col("language") == CHINESE)
    benign = ok.filter(pl.col("label") == "benign")["trace"][0]
    understanding = config.structure.markers(CHINESE).headers[0]
    harmful = [
        f"{understanding}{ELIDED}" if line.startswith(understanding) else line
        for line in ok.filter(pl.col("label") == "harmful")["trace"][0].splitlines()
    ]
    return benign, "\n".join(harmful)


MATH_WORDING_ZH = {
    "correct": "逐步计算每一步，可以得到结果。\n\n所以答案是 $\\boxed{{{answer}}}$。",
    "plain": "把各部分加起来，最后的结果是 {plain}。",
    "expression": "因此，答案是 ${answer}$。",
    "wrong": "再检查一遍，最终答案是 $\\boxed{{{answer}}}$。",
}


def _letter_answers_zh(reference: str, other: str) -> list[tuple[str, bool | None]]:
    """An explicit 答案, a bracketed 故选 variant, a wrong letter and empty."""
    wrong = "ABCD"[("ABCD".index(reference) + 1) % 4]
    return [(f"分析各个选项后，{reference} 项符合题意。\n\n答案：{reference}", True),
            (f"其余选项都不符合题意，故选（{reference}）。", True),
            (f"答案是 {wrong}。", False), ("", False)]  # fmt: skip


PHRASINGS_ZH: dict[str, Phrasing] = {**PHRASINGS, "math": math_answers(MATH_WORDING_ZH), "letter": _letter_answers_zh}


def score_fixed_answers(data: Path) -> tuple[pl.DataFrame, list[str]]:
    """CMMLU and MGSM-zh through ``bench/eval_real.py``'s ``run_case`` with the Chinese phrasings."""
    rows: list[dict[str, Any]] = []
    disagreements: list[str] = []
    for kind in ("cmmlu", "mgsm_zh"):
        row, disagreed, _ = run_case(kind, CASES[kind], data, PHRASINGS_ZH)
        rows.append({**row, "reference": "math-verify" if row["scorer"] == "math" else "by construction"})
        disagreements += disagreed
    return pl.DataFrame(rows, infer_schema_length=None), disagreements


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="the folder of benchmark copies")
    parser.add_argument("--run-dir", type=Path, default=None, help="keep the run here (default: a temporary folder)")
    args = parser.parse_args()
    timings: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="alttrain-chinese-") as scratch:
        run_dir = args.run_dir or Path(scratch) / "bilingual"
        started = time.perf_counter()
        config = bilingual_config(args.data)
        outcomes = run_bilingual(config, run_dir)
        timings["pipeline"] = time.perf_counter() - started
        stage_seconds = ", ".join(f"{outcome.name} {outcome.seconds:.1f} s" for outcome in outcomes)
        started = time.perf_counter()
        table = language_table(config, run_dir)
        benign, harmful = chinese_examples(config, run_dir)
        timings["measures"] = time.perf_counter() - started
    kept = f", kept in {args.run_dir}" if args.run_dir else ""
    print(f"== bilingual pipeline (configs/bilingual.yaml, data {args.data}{kept}): {stage_seconds}")
    with pl.Config(**TABLE):
        print(table)
    print("\n== a Chinese benign trace (MGSM zh, template teacher)\n" + benign)
    print("\n== a Chinese harmful trace (Flames / XSafety zh), its quoted request left out\n" + harmful)
    started = time.perf_counter()
    scores, disagreements = score_fixed_answers(args.data)
    timings["scoring"] = time.perf_counter() - started
    print("\n== fixed answers in Chinese phrasing (right: correct + variant; wrong: the wrong answer)")
    with pl.Config(**TABLE):
        print(scores)
    for line in disagreements[:20]:
        print(line)
    print("\n== refusal judge (the heuristic, alttrain.refusal)")
    print(f"en: {MEASURED_AGREEMENT.sentence()}")
    print(f"zh: {MEASURED_AGREEMENT_ZH.sentence()}")
    print("\n== seconds: " + ", ".join(f"{part} {seconds:.1f}" for part, seconds in timings.items()))
    if disagreements:
        print(f"{len(disagreements)} answers where alttrain and the reference disagree", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
