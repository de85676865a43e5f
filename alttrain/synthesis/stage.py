"""The ``synthesize`` stage: a trace per prompt of ``RUN/prompts.parquet`` into ``RUN/synthesized.parquet``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from alttrain.console import counts_table, say
from alttrain.errors import MissingInputError
from alttrain.layout import CACHE_FILE, PROMPTS_FILE, SYNTHESIZED_FILE
from alttrain.stage import Stage, StageContext

if TYPE_CHECKING:
    from alttrain.config import RunConfig

REPARSE_FLAG = "reparse"


@dataclass(frozen=True)
class SynthesisResult:
    """What the synthesize stage wrote and counted (``ok + quarantined == rows``, one row per prompt)."""

    path: Path
    cache_path: Path
    rows: int
    ok: int
    quarantined: int
    reasons: dict[str, int]  # quarantine reason kind (the text before its first ':') -> rows
    requests_sent: int  # to the teacher, retries included (0 on a re-parse)
    cache_hits: int
    retries: int
    prompt_tokens: int  # over all rows, cached answers included
    completion_tokens: int
    elapsed_s: float
    reparsed: bool = False


def run_synthesis(
    config: RunConfig, run_dir: Path, reparse: bool = False, *, console: Console | None = None
) -> SynthesisResult:
    """Ask the teacher for a trace per prompt of ``RUN/prompts.parquet``; write ``RUN/synthesized.parquet``.

    Args:
        config: the run config (its ``synthesis`` and ``structure`` sections are used).
        run_dir: the run directory.
        reparse: rebuild every row from the cache alone, sending nothing.
        console: where to show a progress bar (None: no bar).

    Raises:
        MissingInputError: without prompts, or without a cache to re-parse.
        CacheMissError: re-parsing, when the cache lacks a row's response.

    """
    import asyncio

    from alttrain.records import STATUS_OK, read_stage, write_stage
    from alttrain.synthesis.engine import synthesize_cached
    from alttrain.synthesis.progress import SynthesisProgress

    prompts = read_stage(run_dir / PROMPTS_FILE, "prompts")
    if config.synthesis.limit is not None:
        prompts = prompts.head(config.synthesis.limit)
    cache_path = config.synthesis.cache_path or run_dir / CACHE_FILE
    if reparse and not cache_path.exists():
        raise MissingInputError(f"{cache_path}: no cache to re-parse (run `alttrain synthesize` first)")
    with SynthesisProgress(prompts.height, enabled=console is not None, console=console) as on_row:
        run = synthesize_cached(
            prompts, config.synthesis, config.structure, cache_path, offline=reparse, on_row=on_row
        )
        outcome = asyncio.run(run)
    frame = outcome.frame
    if frame.height != prompts.height:
        raise RuntimeError(f"synthesis lost rows: {prompts.height} prompts, {frame.height} rows")
    path = run_dir / SYNTHESIZED_FILE
    write_stage(frame, path, "synthesized")
    ok = frame.filter(frame["status"] == STATUS_OK).height
    kinds = frame["reason"].drop_nulls().str.split(":").list.first().value_counts()
    return SynthesisResult(
        path=path,
        cache_path=cache_path,
        rows=frame.height,
        ok=ok,
        quarantined=frame.height - ok,
        reasons=dict(zip(kinds["reason"].to_list(), kinds["count"].to_list(), strict=True)),
        requests_sent=outcome.stats.sent,
        cache_hits=outcome.stats.cache_hits,
        retries=outcome.stats.retries,
        prompt_tokens=int(frame["prompt_tokens"].sum()),
        completion_tokens=int(frame["completion_tokens"].sum()),
        elapsed_s=outcome.elapsed_s,
        reparsed=reparse,
    )


def show_synthesis(console: Console, result: SynthesisResult, config: RunConfig) -> None:
    """Synthesis counts, quarantine reasons and where the rows went."""
    title = "synthesis" + (" (re-parsed from the cache)" if result.reparsed else "")
    console.print(counts_table(title, {
        "prompts": result.rows, "ok": result.ok, "quarantined": result.quarantined,
        "requests sent": result.requests_sent, "cache hits": result.cache_hits, "retries": result.retries,
        "prompt tokens": result.prompt_tokens, "completion tokens": result.completion_tokens,
    }))  # fmt: skip
    for kind, rows in sorted(result.reasons.items()):
        say(console, f"  quarantined {rows} x {kind}")
    say(
        console,
        f"wrote {result.path} ({result.rows} rows = {result.ok} ok + {result.quarantined} quarantined) "
        f"in {result.elapsed_s:.1f} s; cache {result.cache_path}",
    )


def _run(context: StageContext) -> SynthesisResult:
    reparse = REPARSE_FLAG in context.flags
    return run_synthesis(context.config, context.run_dir, reparse, console=context.console)


SYNTHESIS_STAGE = Stage(
    name="synthesize",
    summary="Ask the teacher for traces in the AltTrain structure: RUN/synthesized.parquet.",
    sections=("structure", "synthesis"),
    inputs=(PROMPTS_FILE,),
    outputs=(SYNTHESIZED_FILE,),
    run=_run,
    show=show_synthesis,
    flags={REPARSE_FLAG: "Rebuild every row from RUN/cache.sqlite alone; send nothing."},
)
