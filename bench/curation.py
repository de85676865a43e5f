"""Curation speed and memory: alttrain (polars) against a straightforward pandas implementation.

    .venv/bin/python bench/curation.py [--rows 1000000] [--near-rows 100000] [--language-rows 100000]

Generates synthetic candidates (neutral stand-in traces rendered by the real StructureSpec, with
known defects: broken structure, wrong verdicts, refusals, wrong answers, over-long reasoning,
quarantined rows, exact and near duplicate prompts), writes them as synthesized.parquet, then runs
each implementation in its own subprocess (read parquet -> filters -> score -> exact + near dedup ->
selection -> write parquet) and prints wall time and peak RSS (``VmHWM``, which sees Rust and
numpy allocations) side by side, plus ``speedup: X`` (pandas time / alttrain time).

The main run leaves the language filter out on both sides; it is timed separately on
``--language-rows`` rows with the same lingua detector and the same text (prompt + answer, cut to
300 characters). Near-duplicate detection is also timed alone on ``--near-rows`` prompts: rensa
(what alttrain uses) against datasketch (MinHash.bulk + MinHashLSH) with the same shingles.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

from alttrain.records import conform, normalise_text, read_stage, write_stage
from alttrain.refusal import looks_like_refusal
from alttrain.structure import StructureSpec, TraceFields, TraceParseError

SPEC = StructureSpec()
FILTERS = [
    {"kind": "structure"}, {"kind": "verdict"}, {"kind": "refusal"}, {"kind": "answer"},
    {"kind": "length", "max": {"reasoning": 120, "total": 400}}, {"kind": "reduction"},
]
SELECTION = {"n": 1000, "harmful_fraction": 0.5}
TOKEN = r"\w+|[^\w\s]"
VOCAB = [f"{a}{b}" for a in ("ka", "lo", "mi", "ne", "su", "ta", "vi", "ro") for b in range(700)]
HARMFUL_CATEGORIES = [f"harm_{i}" for i in range(8)]
BENIGN_CATEGORIES = ["gsm_symbolic", "trivia", "writing", "science"]


# ---------------------------------------------------------------- synthetic data
def _words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choices(VOCAB, k=n))


def generate(rows: int, seed: int = 0) -> pl.DataFrame:
    """Synthetic synthesized.parquet rows with known defect rates."""
    rng = random.Random(seed)
    records = []
    prompts: list[str] = []
    for index in range(rows):
        harmful = rng.random() < 0.5
        roll = rng.random()
        if prompts and roll < 0.02:
            prompt = rng.choice(prompts).upper()  # exact duplicate after normalisation
        elif prompts and roll < 0.04:
            words = rng.choice(prompts).split()
            words[rng.randrange(len(words))] = "changed"
            prompt = " ".join(words)  # near duplicate
        else:
            prompt = f"Please explain {_words(rng, rng.randint(8, 18))} in detail?"
        prompts.append(prompt)
        if harmful:
            category = rng.choice(HARMFUL_CATEGORIES)
            fields = TraceFields(
                understanding=f"The request asks for help with {_words(rng, 6)} that could hurt people.",
                assessment=f"Fulfilling it would put others at risk; category {category}.",
                verdict="harmful",
                reasoning=f"Helping would enable harm, so no details; safe context about {_words(rng, 8)} is fine.",
                answer="I can't help with that. General safety resources can help instead.",
            )
            source, reference, original, mode = "bench", None, None, "generate"
        else:
            category = rng.choice(BENIGN_CATEGORIES)
            a, b = rng.randint(1, 900), rng.randint(1, 900)
            steps = f"Take {a} and add {b}. " + _words(rng, rng.randint(10, 60))
            fields = TraceFields(
                understanding=f"The question asks for the total of {a} and {b} about {_words(rng, 5)}.",
                assessment="Answering is plain arithmetic that harms no one; no harm category applies.",
                verdict="benign",
                reasoning=steps,
                answer=f"The answer is {a + b}.",
            )
            source = "reasoning_gym/gsm_symbolic" if category == "gsm_symbolic" else "bench"
            reference = str(a + b) if category in ("gsm_symbolic", "trivia") else None
            original = steps + " " + _words(rng, rng.randint(60, 200)) if category == "gsm_symbolic" else None
            mode = "rewrite" if original else "generate"
        defect = rng.random()
        trace = SPEC.render(fields)
        status, reason = "ok", None
        if defect < 0.02:
            status, reason = "quarantined", "invalid_trace: no verdict line"
        elif defect < 0.04:
            trace = trace.replace(SPEC.reasoning_header, "Reasoning:")  # missing phase
        elif defect < 0.06:
            flipped = "benign" if harmful else "harmful"
            fields = TraceFields(**{**fields.__dict__, "verdict": flipped})
            trace = SPEC.render(fields)
        elif defect < 0.08:
            answer = "Sure, here it is." if harmful else "I'm sorry, I can't help with that."
            fields = TraceFields(**{**fields.__dict__, "answer": answer})
            trace = SPEC.render(fields)
        elif defect < 0.10 and reference:
            fields = TraceFields(**{**fields.__dict__, "answer": "The answer is 7."})
            trace = SPEC.render(fields)
        elif defect < 0.11:
            fields = TraceFields(**{**fields.__dict__, "reasoning": fields.reasoning + " " + _words(rng, 150)})
            trace = SPEC.render(fields)
        records.append({
            "id": f"r{index:08d}", "prompt": prompt, "label": "harmful" if harmful else "benign",
            "category": category, "source": source, "license": "bench", "reference_answer": reference,
            "original_reasoning": original, "status": status, "reason": reason, "mode": mode, "attempts": 1,
            "understanding": fields.understanding, "assessment": fields.assessment, "verdict": fields.verdict,
            "reasoning": fields.reasoning, "answer": fields.answer, "trace": trace,
        })
    return conform(pl.DataFrame(records, infer_schema_length=None), "synthesized")


# ---------------------------------------------------------------- the two implementations
def run_alttrain(path: Path, out: Path, language: bool) -> dict:
    """Read, curate with alttrain, write."""
    from alttrain.curation.config import CurationConfig
    from alttrain.curation.filters.base import FilterContext
    from alttrain.curation.pipeline import curate
    from alttrain.measures import TokenizerConfig, make_counter

    filters = FILTERS + ([{"kind": "language"}] if language else [])
    config = CurationConfig.model_validate({"filters": filters, "selection": SELECTION})
    frame = read_stage(path, "synthesized")
    outcome = curate(frame, config, FilterContext(spec=SPEC, counter=make_counter(TokenizerConfig())))
    write_stage(outcome.curated, out / "curated.parquet", "curated")
    write_stage(outcome.rejected, out / "rejected.parquet", "rejected")
    reasons = outcome.rejected["filter_reason"].str.replace(r"^dedup:near:.*", "dedup:near").value_counts()
    return {"selected": outcome.curated.height, "reasons": dict(reasons.iter_rows())}


def _first_violation(trace: str) -> str | None:
    try:
        SPEC.parse(trace)
    except TraceParseError as error:
        return f"structure:{error.violations[0].kind.value}"
    return None


def _answer_ok(row: object) -> bool | None:
    import pandas as pd
    import reasoning_gym

    if row.label != "benign" or pd.isna(row.reference_answer):  # type: ignore[attr-defined]
        return None
    if row.source.startswith("reasoning_gym/"):  # type: ignore[attr-defined]
        score = reasoning_gym.get_score_answer_fn(row.source.split("/", 1)[1])  # type: ignore[attr-defined]
        return score(row.answer, {"answer": row.reference_answer, "metadata": {}}) >= 1.0  # type: ignore[attr-defined]
    numbers = re.findall(r"-?\d+(?:\.\d+)?", re.sub(r"(\d),(\d)", r"\1\2", row.answer))  # type: ignore[attr-defined]
    return bool(numbers) and float(numbers[-1]) == float(row.reference_answer)  # type: ignore[attr-defined]


def _near_clusters_datasketch(prompts: list[str], threshold: float = 0.7) -> list[int]:
    """Cluster label per prompt: datasketch MinHash.bulk + MinHashLSH, union-find over query results."""
    from datasketch import MinHash, MinHashLSH

    shingles = []
    for prompt in prompts:
        words = re.findall(r"\w+", prompt)
        grams = {" ".join(words[i : i + 3]) for i in range(len(words) - 2)} or {prompt}
        shingles.append([g.encode() for g in grams])
    hashes = MinHash.bulk(shingles, num_perm=128)
    lsh = MinHashLSH(threshold=threshold, num_perm=128)
    parent = list(range(len(prompts)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for index, minhash in enumerate(hashes):
        for other in lsh.query(minhash):
            if hashes[other].jaccard(minhash) >= threshold:
                parent[find(index)] = find(other)
        lsh.insert(index, minhash)
    return [find(i) for i in range(len(prompts))]


def run_pandas(path: Path, out: Path, language: bool) -> dict:
    """The same filters, dedup and selection written straightforwardly in pandas."""
    import pandas as pd

    from alttrain.curation.selection import allocate

    df = pd.read_parquet(path)
    reason = pd.Series([None] * len(df), index=df.index, dtype=object)

    def drop(mask: pd.Series, why: pd.Series | str) -> None:
        mask = mask & reason.isna()
        reason[mask] = why[mask] if isinstance(why, pd.Series) else why

    drop(df.status == "quarantined", "synthesis:quarantined: " + df.reason.fillna(""))
    drop(df.trace.isna(), "input:no_trace")
    violations = df.trace.fillna("").apply(_first_violation)
    drop(violations.notna(), violations)
    drop(reason.isna() & (df.verdict != df.label), "verdict_mismatch")
    refused = df.answer.fillna("").apply(looks_like_refusal)
    drop(reason.isna() & (df.label == "benign") & refused, "refusal_when_benign")
    drop(reason.isna() & (df.label == "harmful") & ~refused, "no_refusal_when_harmful")
    correct = df.apply(_answer_ok, axis=1)
    drop(reason.isna() & (correct == False), "answer:incorrect")  # noqa: E712 - None means unchecked
    for part in ("understanding", "assessment", "reasoning", "answer"):
        df[f"tokens_{part}"] = df[part].fillna("").str.count(TOKEN)
    df["tokens_total"] = df.trace.fillna("").str.count(TOKEN)
    drop(reason.isna() & (df.tokens_reasoning > 120), "length:reasoning>120")
    drop(reason.isna() & (df.tokens_total > 400), "length:total>400")
    phases = df.tokens_understanding + df.tokens_assessment + df.tokens_reasoning
    df["length_reduction"] = df.original_reasoning.fillna("").str.count(TOKEN) / phases
    if language:
        detector = _lingua()
        text = (df.prompt + "\n" + df.answer.fillna("")).str.slice(0, 300)
        lang = text.apply(lambda t: _code(detector.detect_language_of(t)))
        drop(reason.isna() & ~lang.isin(["en", "unknown"]), "language:" + lang)

    fill = sum((df[f"tokens_{p}"] >= 8).astype(float) for p in ("understanding", "assessment", "reasoning")) / 3
    concision = np.where(df.tokens_total <= 1024, 1.0, 1024 / df.tokens_total.clip(lower=1))
    df["score"] = 10 * (fill + concision + 1 / df.attempts.fillna(1).clip(lower=1)) / 3
    df["norm"] = df.prompt.apply(normalise_text)
    alive = df[reason.isna()].sort_values(["score", "id"], ascending=[False, True])
    exact_dup = alive.duplicated("norm")
    reason[exact_dup[exact_dup].index] = "dedup:exact"
    alive = alive[~exact_dup]
    clusters = pd.Series(_near_clusters_datasketch(alive.norm.tolist()), index=alive.index)
    near_dup = clusters.duplicated()
    reason[near_dup[near_dup].index] = "dedup:near"
    alive = alive[~near_dup]

    take = {"harmful": 500, "benign": 500}
    chosen = []
    for label, quota in take.items():
        group = alive[alive.label == label]
        shares = allocate(quota, group.category.value_counts().to_dict())
        for category, rows in group.groupby("category"):
            chosen.append(rows.head(shares[category]))
    selected = pd.concat(chosen)
    reason[alive.index.difference(selected.index)] = "selection:not_selected"
    df["filter_reason"] = reason
    df[reason.isna()].drop(columns="norm").to_parquet(out / "curated.parquet")
    df[reason.notna()].drop(columns="norm").to_parquet(out / "rejected.parquet")
    return {"selected": int(reason.isna().sum()), "reasons": reason.dropna().value_counts().to_dict()}


def _lingua() -> object:
    from lingua import LanguageDetectorBuilder

    return LanguageDetectorBuilder.from_all_languages().with_low_accuracy_mode().build()


def _code(language: object) -> str:
    return "unknown" if language is None else language.iso_code_639_1.name.lower()  # type: ignore[attr-defined]


# ---------------------------------------------------------------- side measurements
def run_near(path: Path, which: str) -> dict:
    """Near-dup clusters of the prompts alone, with rensa (alttrain) or datasketch."""
    from alttrain.neardup import DedupConfig, near_duplicate_components, normalised

    prompts = normalised(pl.read_parquet(path, columns=["prompt"])["prompt"])
    if which == "rensa":
        labels = near_duplicate_components(prompts, DedupConfig())
    else:
        labels = np.asarray(_near_clusters_datasketch(prompts.to_list()))
    return {"prompts": len(prompts), "clusters": int(len(np.unique(labels)))}


def run_language(path: Path, which: str) -> dict:
    """The language filter alone: alttrain's LanguageFilter vs pandas apply, same detector and text."""
    frame = pl.read_parquet(path, columns=["prompt", "answer"])
    if which == "alttrain":
        from alttrain.curation.filters.base import FilterContext
        from alttrain.curation.filters.language import LanguageFilter
        from alttrain.measures import TokenizerConfig, make_counter

        out = LanguageFilter().apply(frame, FilterContext(spec=SPEC, counter=make_counter(TokenizerConfig())))
        return {"dropped": int(out["drop_reason"].is_not_null().sum())}
    detector = _lingua()
    df = frame.to_pandas()
    texts = (df.prompt + "\n" + df.answer.fillna("")).str.slice(0, 300)
    codes = texts.apply(lambda t: _code(detector.detect_language_of(t)))
    return {"dropped": int((~codes.isin(["en", "unknown"])).sum())}


# ---------------------------------------------------------------- the driver
def child(arguments: argparse.Namespace) -> None:
    """Run one measurement in this process and print its JSON line."""
    path, started = Path(arguments.input), time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        if arguments.child in ("alttrain", "pandas"):
            run = run_alttrain if arguments.child == "alttrain" else run_pandas
            result = run(path, Path(out), arguments.language)
        elif arguments.child.startswith("near-"):
            result = run_near(path, arguments.child.removeprefix("near-"))
        else:
            result = run_language(path, arguments.child.removeprefix("language-"))
    result["seconds"] = time.perf_counter() - started
    result["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(result))


def peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM: unlike ru_maxrss, it does not inherit the parent's peak)."""
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0]) / 1024


def measure(name: str, path: Path, language: bool = False) -> dict:
    """Run one measurement in a fresh subprocess."""
    command = [sys.executable, __file__, "--child", name, "--input", str(path)] + (["--language"] if language else [])
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"{name} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def compare(title: str, baseline: tuple[str, dict], ours: tuple[str, dict]) -> float:
    """Print two measurements side by side; return the speedup."""
    speedup = baseline[1]["seconds"] / ours[1]["seconds"]
    print(f"\n{title}")
    for name, result in (baseline, ours):
        print(f"  {name:<12} {result['seconds']:9.2f} s   peak RSS {result['peak_rss_mb']:8.0f} MiB")
    print(f"  ratio: {speedup:.1f}x faster, {baseline[1]['peak_rss_mb'] / ours[1]['peak_rss_mb']:.2f}x less memory")
    return speedup


def main() -> None:
    """Generate data, run every measurement side by side, print the figures."""
    parser = argparse.ArgumentParser(description="alttrain curation vs pandas")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--near-rows", type=int, default=100_000)
    parser.add_argument("--language-rows", type=int, default=100_000)
    parser.add_argument("--child")
    parser.add_argument("--input")
    parser.add_argument("--language", action="store_true")
    arguments = parser.parse_args()
    if arguments.child:
        child(arguments)
        return
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        data = generate(arguments.rows)
        rows = data.height
        path, near, lang = (Path(folder) / name for name in ("synthesized.parquet", "near.parquet", "language.parquet"))
        data.write_parquet(path)
        data.head(arguments.near_rows).write_parquet(near)
        data.head(arguments.language_rows).write_parquet(lang)
        del data  # the timed children get the machine's memory to themselves (this frame holds ~5 GB)
        print(f"generated {rows:,} candidates in {time.perf_counter() - started:.0f} s")
        ours, theirs = measure("alttrain", path), measure("pandas", path)
        title = f"whole curation of {rows:,} rows (no language filter)"
        speedup = compare(title, ("pandas", theirs), ("alttrain", ours))
        same = {k: v for k, v in ours["reasons"].items() if not k.startswith(("dedup", "selection"))}
        print(f"  filter drops agree: {same == {k: v for k, v in theirs['reasons'].items() if k in same}}  {same}")
        compare(f"near-dup alone on {arguments.near_rows:,} prompts", ("datasketch", measure("near-datasketch", near)),
                ("rensa", measure("near-rensa", near)))
        compare(f"language filter alone on {arguments.language_rows:,} rows (same lingua detector)",
                ("pandas", measure("language-pandas", lang)), ("alttrain", measure("language-alttrain", lang)))
        print(f"\nspeedup: {speedup:.1f}")


if __name__ == "__main__":
    main()
