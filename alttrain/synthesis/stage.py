"""The ``synthesize`` stage: a trace per prompt of ``RUN/prompts.parquet`` into ``RUN/synthesized.parquet``.

Requests go to the teacher one by one, or, with ``synthesis.batch`` set, as Batch API batches; ``--export``
and ``--ingest`` take the offline batch path through ``vllm run-batch`` (see :mod:`alttrain.synthesis.batch`).
With ``synthesis.executor: ray`` the one-by-one path runs on a Ray Data actor pool
(:mod:`alttrain.synthesis.ray_executor`). Every run that sends writes ``RUN/scaleout.json``: the executor,
the actors and their accounting (a re-parse leaves it as the run that made the answers wrote it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from alttrain.console import counts_table, say
from alttrain.errors import ConfigError, MissingInputError
from alttrain.layout import (
    BATCHES_FILE,
    CACHE_FILE,
    CONFIG_FILE,
    LOGS_DIR,
    PROMPTS_FILE,
    SCALEOUT_FILE,
    SYNTHESIZED_FILE,
)
from alttrain.quiet import library_output_to
from alttrain.stage import Stage, StageContext
from alttrain.synthesis.view import SynthesisView

if TYPE_CHECKING:
    import polars as pl

    from alttrain.scaleout.accounting import ScaleoutReport
    from alttrain.synthesis.batch_rounds import BatchRun
    from alttrain.synthesis.batch_state import BatchAccounting
    from alttrain.synthesis.engine import SynthesisOutcome

REPARSE_FLAG = "reparse"
EXPORT_FLAG = "export"
INGEST_FLAG = "ingest"


@dataclass(frozen=True)
class SynthesisResult:
    """What the synthesize stage wrote and counted (``ok + quarantined == rows``, one row per prompt).

    With requests pending for `vllm run-batch` (``--export``), nothing is written: ``rows`` counts the rows
    built so far and ``pending_rows`` those waiting.
    """

    path: Path
    cache_path: Path
    rows: int
    ok: int
    quarantined: int
    reasons: dict[str, int]  # quarantine reason kind (the text before its first ':') -> rows
    requests_sent: int  # to the teacher, retries included (0 on a re-parse); batches: requests submitted
    cache_hits: int
    retries: int
    prompt_tokens: int  # over all rows, cached answers included
    completion_tokens: int
    elapsed_s: float
    reparsed: bool = False
    stale_cache_entries: int = 0  # cached answers under an older cache-key version (never reused)
    batch: BatchAccounting | None = None  # the batch teacher's accounting over the run (RUN/batches.json)
    pending_rows: int = 0  # --export: rows whose requests wait in ``batch_input``
    pending_requests: int = 0
    batch_input: Path | None = None
    executor: str = "local"  # local | ray | batch: where this invocation made the rows (a re-parse: local)
    scaleout: ScaleoutReport | None = None  # ray: the pool and the per-actor accounting (RUN/scaleout.json)


def run_synthesis(
    config: SynthesisView,
    run_dir: Path,
    reparse: bool = False,
    *,
    console: Console | None = None,
    export: bool = False,
    ingest: bool = False,
) -> SynthesisResult:
    """Ask the teacher for a trace per prompt of ``RUN/prompts.parquet``; write ``RUN/synthesized.parquet``.

    Args:
        config: the ``structure`` and ``synthesis`` sections (a run config works too).
        run_dir: the run directory.
        reparse: rebuild every row from the cache alone, sending nothing.
        console: where to show progress (None: nowhere).
        export: write the uncached requests for `vllm run-batch` instead of sending them; the rows are
            written once every request is answered.
        ingest: first read what `vllm run-batch` answered into the cache (implies ``export``).

    Raises:
        MissingInputError: without prompts, or without a cache to re-parse.
        CacheMissError: re-parsing, when the cache lacks a row's response.
        ConfigError: ``reparse`` with ``export`` or ``ingest``.

    """
    import time

    from alttrain.records import STATUS_OK, read_stage, write_stage
    from alttrain.synthesis.batch_state import BatchState

    started = time.perf_counter()
    prompts = read_stage(run_dir / PROMPTS_FILE, "prompts")
    if config.synthesis.limit is not None:
        prompts = prompts.head(config.synthesis.limit)
    cache_path = config.synthesis.cache_path or run_dir / CACHE_FILE
    if reparse and (export or ingest):
        raise ConfigError("--reparse builds rows from the cache alone; it cannot be combined with --export or --ingest")
    if reparse and not cache_path.exists():
        raise MissingInputError(f"{cache_path}: no cache to re-parse (run `alttrain synthesize` first)")
    outcome, batch, scaleout = _synthesize(config, run_dir, prompts, cache_path, console, reparse=reparse,
                                           export=export, ingest=ingest)
    frame, path = outcome.frame, run_dir / SYNTHESIZED_FILE
    if batch is not None and batch.pending:
        path.unlink(missing_ok=True)  # rows of an older config would pass for this one's (the stage stamp)
    elif frame.height != prompts.height:
        raise RuntimeError(f"synthesis lost rows: {prompts.height} prompts, {frame.height} rows")
    else:
        write_stage(frame, path, "synthesized")
        if batch is not None:
            BatchState.mark_finished(run_dir / BATCHES_FILE)
        if not reparse:
            report = _scaleout_report(scaleout, batch, outcome, frame.height)
            report.write(run_dir / SCALEOUT_FILE, SYNTHESIS_STAGE.name)
    ok = frame.filter(frame["status"] == STATUS_OK).height
    kinds = frame["reason"].drop_nulls().str.split(":").list.first().value_counts()
    return SynthesisResult(
        path=path,
        cache_path=cache_path,
        rows=frame.height,
        ok=ok,
        quarantined=frame.height - ok,
        reasons=dict(zip(kinds["reason"].to_list(), kinds["count"].to_list(), strict=True)),
        requests_sent=batch.submitted if batch is not None else outcome.stats.sent,
        cache_hits=outcome.stats.cache_hits,
        retries=outcome.stats.retries,
        prompt_tokens=int(frame["prompt_tokens"].sum()),
        completion_tokens=int(frame["completion_tokens"].sum()),
        elapsed_s=outcome.elapsed_s if batch is None else time.perf_counter() - started,
        reparsed=reparse,
        stale_cache_entries=outcome.stale_cache_entries,
        batch=batch.accounting if batch is not None else None,
        pending_rows=len(outcome.unfinished),
        pending_requests=batch.pending if batch is not None else 0,
        batch_input=batch.input_file if batch is not None else None,
        executor="batch" if batch is not None else "ray" if scaleout is not None else "local",
        scaleout=scaleout,
    )


def _synthesize(
    config: SynthesisView, run_dir: Path, prompts: pl.DataFrame, cache_path: Path, console: Console | None, *,
    reparse: bool, export: bool, ingest: bool,
) -> tuple[SynthesisOutcome, BatchRun | None, ScaleoutReport | None]:  # fmt: skip
    """Run the engine online (with a progress bar; locally or on Ray), offline (``reparse``) or through batches."""
    import asyncio

    from alttrain.synthesis.batch import synthesize_in_batches
    from alttrain.synthesis.engine import synthesize_cached
    from alttrain.synthesis.progress import SynthesisProgress

    synthesis, spec = config.synthesis, config.structure
    if not reparse and (export or ingest or synthesis.batch is not None):
        run = synthesize_in_batches(prompts, synthesis, spec, run_dir, cache_path, files=export or ingest,
                                    ingest=ingest, console=console)
        batch = asyncio.run(run)
        return batch.outcome, batch, None
    with SynthesisProgress(prompts.height, enabled=console is not None, console=console) as on_row:
        if not reparse and synthesis.executor == "ray":
            from alttrain.synthesis.ray_executor import synthesize_on_ray

            outcome, scaleout = synthesize_on_ray(prompts, synthesis, spec, cache_path, on_row=on_row)
            return outcome, None, scaleout
        outcome = asyncio.run(synthesize_cached(prompts, synthesis, spec, cache_path, offline=reparse, on_row=on_row))
    return outcome, None, None


def _scaleout_report(
    scaleout: ScaleoutReport | None, batch: BatchRun | None, outcome: SynthesisOutcome, rows: int
) -> ScaleoutReport:
    """The Ray run's report, or the one a local or batch run makes (one process, no actors)."""
    from alttrain.scaleout.accounting import ScaleoutReport

    if scaleout is not None:
        return scaleout
    sent = batch.submitted if batch is not None else outcome.stats.sent
    return ScaleoutReport(executor="batch" if batch is not None else "local", rows=rows, requests_sent=sent,
                          elapsed_s=round(outcome.elapsed_s, 3))


def show_synthesis(console: Console, result: SynthesisResult, config: SynthesisView) -> None:
    """Synthesis counts, quarantine reasons, the batch accounting and where the rows went."""
    title = "synthesis" + (" (re-parsed from the cache)" if result.reparsed else "")
    console.print(counts_table(title, {
        "prompts": result.rows + result.pending_rows, "ok": result.ok, "quarantined": result.quarantined,
        "requests sent": result.requests_sent, "cache hits": result.cache_hits, "retries": result.retries,
        "prompt tokens": result.prompt_tokens, "completion tokens": result.completion_tokens,
    }))  # fmt: skip
    for kind, rows in sorted(result.reasons.items()):
        say(console, f"  quarantined {rows} x {kind}")
    if result.batch is not None:
        show_batch_accounting(console, result.batch)
    if result.scaleout is not None:
        from alttrain.scaleout.view import show_scaleout

        show_scaleout(console, result.scaleout)
    if result.stale_cache_entries:
        say(console, f"  note: the cache holds {result.stale_cache_entries} answers from an older alttrain (another "
                     "cache-key version); they were not reused")
    if result.pending_requests:
        from alttrain.synthesis.batch_files import vllm_command

        run_dir = result.path.parent
        command = vllm_command(run_dir, config.synthesis.teacher.model)
        ingest = f"alttrain synthesize -c {run_dir / CONFIG_FILE} -r {run_dir} --ingest"  # the resolved config
        say(console, f"{result.rows} rows built, {result.pending_rows} waiting: {result.pending_requests} requests "
                     f"are in {result.batch_input}; run `{command}`, then `{ingest}`")
        return
    say(
        console,
        f"wrote {result.path} ({result.rows} rows = {result.ok} ok + {result.quarantined} quarantined) "
        f"in {result.elapsed_s:.1f} s; cache {result.cache_path}",
    )


def show_batch_accounting(console: Console, accounting: BatchAccounting) -> None:
    """The batch teacher's counts, tokens and discount (over every batch of the run)."""
    console.print(counts_table("batch teacher (RUN/batches.json)", {
        "rounds": accounting.rounds, "batches": accounting.batches, "requests": accounting.requests,
        "resubmitted": accounting.resubmitted, "answered": accounting.answered, "failed": accounting.failed,
        "unanswered": accounting.unanswered, "prompt tokens": accounting.prompt_tokens,
        "completion tokens": accounting.completion_tokens,
    }))  # fmt: skip
    if accounting.discount is not None:
        tokens = accounting.prompt_tokens + accounting.completion_tokens
        say(console, f"  batch discount {accounting.discount:.0%} ({accounting.discount_source}): {tokens} tokens "
                     f"billed like {round(tokens * (1 - accounting.discount))} at online prices")


def _run(context: StageContext[SynthesisView]) -> SynthesisResult:
    flags = context.flags
    with library_output_to(context.run_dir / LOGS_DIR / "synthesize.log"):  # an in-process engine's chatter
        return run_synthesis(context.config, context.run_dir, REPARSE_FLAG in flags, console=context.console,
                             export=EXPORT_FLAG in flags, ingest=INGEST_FLAG in flags)


SYNTHESIS_STAGE = Stage(
    name="synthesize",
    summary="Ask the teacher for traces in the AltTrain structure: RUN/synthesized.parquet.",
    view=SynthesisView,
    inputs=(PROMPTS_FILE,),
    outputs=(SYNTHESIZED_FILE,),
    run=_run,
    show=show_synthesis,
    flags={
        REPARSE_FLAG: "Rebuild every row from RUN/cache.sqlite alone; send nothing.",
        EXPORT_FLAG: "Send nothing: write the uncached requests to RUN/batch/vllm_input.jsonl for `vllm run-batch`.",
        INGEST_FLAG: "Read RUN/batch/vllm_output.jsonl (from `vllm run-batch`) into the cache, then build the rows.",
    },
)
