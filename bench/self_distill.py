"""Teacher, self and restyle traces side by side on the quickstart prompts (CPU, the embedded SmolLM2).

    .venv/bin/python bench/self_distill.py [--rows 16] [--samples 2] [--max-tokens 256] \
        [--prefill opening|phases] [--out DIR]

Takes ``--rows`` prompts of ``configs/quickstart.yaml``'s prompt stage (half harmful, half benign, in pool
order) and makes a trace for each three ways:

- ``teacher``: the quickstart's teacher (the rule-based template teacher), as the quickstart makes its data;
- ``self``: SmolLM2-135M-Instruct writes its own (:mod:`alttrain.synthesis.own`, ``--samples`` per prompt,
  the nudge in a system message, training's chat template, transformers on CPU);
- ``restyle``: SmolLM2 paraphrases the teacher's ok trace of the same prompt.

With ``--prefill opening`` (``synthesis.prefill: true``) SmolLM2's turn starts with the structure's opening (the
think marker and the first phase header), which it continues; with ``--prefill phases`` (``synthesis.prefill:
phases``, :mod:`alttrain.synthesis.scaffold`) the harness writes every fixed string of the structure and SmolLM2
each phase and its verdict word, ``--max-tokens`` per phase.

Per mode it prints the rows with a valid trace (the validator, the label and, for restyle, the answer check
decide), the samples that were valid, the tokens per trace (SmolLM2's tokenizer), the base model's mean
per-token NLL of the valid traces given their prompts (:mod:`alttrain.models.nll`) and the wall time, then
the reasons the samples were quarantined. The NLL of SmolLM2's own samples, valid or not, is printed as the
floor a model's own text sits at.

Measured on 2 shared CPU cores (2026-12-07, ``--rows 8 --samples 2 --max-tokens 128``): teacher 8/8 valid,
171.9 tokens per trace, NLL 3.042; self and restyle 0/16 valid samples (16 x no think block, 12 and 11 x cut
off at max_tokens), 465 s and 817 s (a re-run from the caches: 2 s and 0 s); SmolLM2's own samples sit at
NLL 1.82 (self) and 1.95 (restyle). A 135M model ignores the nudge (its harmful samples comply: quarantined,
never trained on); the gap the teacher's traces open is ~1.2 nats per token. With ``--prefill opening``
(2026-12-07, ``--rows 2 --samples 2 --max-tokens 256``, the 2 cores shared, load ~6):
teacher 2/2 valid, 173.5 tokens per trace, NLL 3.009; self and restyle 0/4 valid samples, 533 s and 329 s.
Every sample now has its think block (no ``no_think`` left), but SmolLM2 rarely writes the later headers: self
5 x missing_phase, 4 x unclosed_think, 4 x cut off; restyle 8 x missing_phase, 4 x unclosed_think, 2 x cut off.
Its own samples (prefix included) sit at NLL 1.67 (self) and 2.33 (restyle). The 8-row run did not fit the time.
With ``--prefill phases`` (2026-12-07, ``--rows 4 --samples 2 --max-tokens 48``, the 2 cores shared): teacher 4/4
valid, 165.8 tokens per trace, NLL 3.206; self and restyle 0/8 valid samples, 61 s and 304 s. The scaffold leaves
no structural failure (no missing_phase, unclosed_think or no_think); what stops SmolLM2 now is the verdict word
and long phases: self 6 x no_verdict (after ``Verdict:`` it writes "harmless", "beneficial", "dangerous" or a
number), 2 x cut off; restyle 4 x cut off, 2 x no_verdict, 1 x answer not kept, 1 x empty answer. Its scaffolded
samples (headers included) sit at NLL 3.08 (self) and 3.16 (restyle). Every pass is batched: the transformers
backend decodes each sample index's requests (one seed) of a step in length-sorted, padded batches of
``transformers.batch_size``; a batch runs until every row stops, mostly to max_tokens, and the nudge makes each
prompt ~300 tokens, hence the time on 2 shared cores.
Answers are cached in ``--out`` (a re-run reuses them).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from collections import Counter
from pathlib import Path

import polars as pl

from alttrain.config import load_config
from alttrain.llm.cache import ResponseCache
from alttrain.llm.client import TeacherClient
from alttrain.models.nll import NllScorer, TraceNll
from alttrain.sources.pool import build_prompt_pool
from alttrain.structure import StructureSpec
from alttrain.synthesis.config import SynthesisConfig
from alttrain.synthesis.engine import synthesize_cached
from alttrain.synthesis.own import synthesize_own

QUICKSTART = Path(__file__).resolve().parent.parent / "configs" / "quickstart.yaml"


def quickstart_prompts(rows: int) -> tuple[pl.DataFrame, SynthesisConfig, str, Path]:
    """``rows`` prompts of the quickstart pool (half harmful), its synthesis section, training's model and cache."""
    config = load_config(QUICKSTART)
    pool = build_prompt_pool(config.prompts)[0]
    half = rows // 2
    prompts = pl.concat([pool.filter(pl.col("label") == "harmful").head(rows - half),
                         pool.filter(pl.col("label") == "benign").head(half)])  # fmt: skip
    return prompts, config.synthesis, config.training.model, config.training.cache_dir


def own_config(
    mode: str, model: str, cache_dir: Path, samples: int, max_tokens: int, prefill: bool | str
) -> SynthesisConfig:
    """Mode ``self`` or ``restyle`` with SmolLM2 on the transformers backend (training's chat template: auto)."""
    teacher = {"backend": "transformers", "model": model, "checkpoint": {"cache_dir": str(cache_dir)},
               "sampling": {"temperature": 0.7, "max_tokens": max_tokens, "seed": 0, "repetition_penalty": 1.1}}
    return SynthesisConfig(mode=mode, samples=samples, teacher=teacher, prefill=prefill)  # fmt: skip


def run_own(prompts: pl.DataFrame, config: SynthesisConfig, spec: StructureSpec, cache_path: Path) -> pl.DataFrame:
    """The model's own traces (answers cached in ``cache_path``)."""

    async def run() -> pl.DataFrame:
        with ResponseCache(cache_path) as cache:
            async with TeacherClient(config.teacher, cache) as client:
                return (await synthesize_own(prompts, config, spec, client)).frame

    return asyncio.run(run())


def complaint_kinds(frame: pl.DataFrame) -> Counter[str]:
    """Every invalid sample's complaints, by kind (the text before the first ':' of each)."""
    kinds: Counter[str] = Counter()
    for samples in frame["samples"].drop_nulls().to_list():
        for sample in json.loads(samples):
            for complaint in (sample["reason"] or "").split("; ") if sample["outcome"] == "invalid" else []:
                kinds[complaint.split(":")[0][:70]] += 1
    return kinds


def report(mode: str, frame: pl.DataFrame, nll: TraceNll, seconds: float) -> str:
    """One line of the table."""
    ok = frame.filter(pl.col("status") == "ok").height
    if "samples" in frame.columns:
        outcomes = [s["outcome"] for samples in frame["samples"].drop_nulls().to_list() for s in json.loads(samples)]
        valid = f"{sum(o in ('selected', 'valid') for o in outcomes)}/{len(outcomes)}"
    else:
        valid = f"{ok}/{frame.height}"
    per_trace = nll.tokens / nll.rows if nll.rows else float("nan")
    return (f"{mode:<8} {frame.height:>5} {ok:>6} {ok / frame.height:>7.2f} {valid:>9} {per_trace:>10.1f} "
            f"{nll.mean:>8.3f} {seconds:>8.1f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=16)
    parser.add_argument("--samples", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--prefill", choices=("opening", "phases"), default=None,
                        help="opening: start SmolLM2's turn with the structure's opening; phases: the scaffold")
    parser.add_argument("--out", type=Path, default=None, help="where the caches go (default: a temporary folder)")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="self_distill."))
    out.mkdir(parents=True, exist_ok=True)
    spec = StructureSpec()
    prefill = {None: False, "opening": True, "phases": "phases"}[args.prefill]
    prompts, teacher_config, model, cache_dir = quickstart_prompts(args.rows)
    frames: dict[str, pl.DataFrame] = {}
    seconds: dict[str, float] = {}

    started = time.perf_counter()
    frames["teacher"] = asyncio.run(synthesize_cached(prompts, teacher_config, spec, out / "teacher.sqlite")).frame
    seconds["teacher"] = time.perf_counter() - started
    teacher_ok = frames["teacher"].filter(pl.col("status") == "ok").select("id", "trace", "answer")
    restyle_prompts = prompts.join(teacher_ok, on="id", how="left").with_columns(
        pl.col("trace").alias("original_reasoning"), pl.col("answer").alias("original_answer")
    ).drop("trace", "answer")
    for mode, rows in (("self", prompts), ("restyle", restyle_prompts)):
        started = time.perf_counter()
        config = own_config(mode, model, cache_dir, args.samples, args.max_tokens, prefill)
        frames[mode] = run_own(rows, config, spec, out / f"{mode}.sqlite")
        seconds[mode] = time.perf_counter() - started

    scorer = NllScorer(model, cache_dir=cache_dir)
    print(f"{args.rows} quickstart prompts ({args.rows - args.rows // 2} harmful), {args.samples} samples per "
          f"prompt for self/restyle, max_tokens {args.max_tokens}, prefill {args.prefill or 'none'}; "
          f"caches in {out}")  # fmt: skip
    print(f"{'mode':<8} {'rows':>5} {'valid':>6} {'rate':>7} {'samples':>9} {'tok/trace':>10} {'NLL':>8} {'time s':>8}")
    for mode, frame in frames.items():
        valid = frame.filter(pl.col("status") == "ok")
        nll = scorer.score(list(zip(valid["prompt"].to_list(), valid["trace"].to_list(), strict=True)))
        print(report(mode, frame, nll, seconds[mode]))
    for mode in ("self", "restyle"):
        own = frames[mode].filter(pl.col("raw_completion").is_not_null())
        floor = scorer.score(list(zip(own["prompt"].to_list(), own["raw_completion"].to_list(), strict=True)))
        print(f"{mode}: SmolLM2's own samples (the last per prompt, valid or not): NLL {floor.mean:.3f} over "
              f"{floor.tokens} tokens")  # fmt: skip
    for mode in ("self", "restyle"):
        print(f"{mode}: quarantine reasons of the invalid samples (complaints by kind):")
        for kind, count in complaint_kinds(frames[mode]).most_common(8):
            print(f"  {count:>4} x {kind}")


if __name__ == "__main__":
    main()
