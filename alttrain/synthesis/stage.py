"""The ``synthesize`` stage: a trace per prompt of ``RUN/prompts.parquet`` into ``RUN/synthesized.parquet``.

The engine runs as a job (:class:`~alttrain.synthesis.job.SynthesisJob`) on the executor ``synthesis.executor``
names (:mod:`alttrain.execution`): locally, on a pool of Ray actors, or as Batch API batches. ``--reparse``
runs it on the local executor over the cache alone; ``--export`` and ``--ingest`` on the batch executor's
files for ``vllm run-batch``. Every run that sends writes ``RUN/scaleout.json``: the executor, the actors and
their accounting (a re-parse leaves it as the run that made the answers wrote it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from alttrain.console import counts_table, say
from alttrain.errors import ConfigError, MissingInputError
from alttrain.layout import (
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
    from alttrain.execution.base import Execution, Executor
    from alttrain.execution.batch.state import BatchAccounting
    from alttrain.scaleout.accounting import ScaleoutReport

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
    pending_rows: int = 0  # --export: rows whose requests wait in ``batch_input``
    executor: str = "local"  # local | ray | batch: where this invocation made the rows (a re-parse: local)
    execution: Execution | None = None  # what the executor returned (its accounting)
    # modes self/restyle: samples by outcome (selected | valid | invalid | error); empty in the teacher modes
    samples: dict[str, int] = field(default_factory=dict)

    @property
    def scaleout(self) -> ScaleoutReport | None:
        """What ``RUN/scaleout.json`` holds (None: nothing was sent)."""
        return None if self.execution is None else self.execution.report

    @property
    def batch(self) -> BatchAccounting | None:
        """The batch executor's accounting over the run (``RUN/batches.json``)."""
        return None if self.execution is None else self.execution.batches

    @property
    def pending_requests(self) -> int:
        """``--export``: requests waiting in ``batch_input`` for `vllm run-batch`."""
        return 0 if self.execution is None else self.execution.pending_requests

    @property
    def batch_input(self) -> Path | None:
        """``--export``: the file those requests wait in."""
        return None if self.execution is None else self.execution.pending_file


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
    import polars as pl

    from alttrain.llm.cache import ResponseCache
    from alttrain.records import STATUS_OK, SYNTHESIZED_SCHEMA, read_stage, write_stage
    from alttrain.synthesis.job import SynthesisJob
    from alttrain.synthesis.own import OWN_SCHEMA, restyle_sources, sample_counts
    from alttrain.synthesis.progress import SynthesisProgress

    prompts = read_stage(run_dir / PROMPTS_FILE, "prompts")
    if config.synthesis.limit is not None:
        prompts = prompts.head(config.synthesis.limit)
    if config.synthesis.restyle_from is not None:
        prompts = restyle_sources(prompts, config.synthesis.restyle_from)
    cache_path = config.synthesis.cache_path or run_dir / CACHE_FILE
    if reparse and (export or ingest):
        raise ConfigError("--reparse builds rows from the cache alone; it cannot be combined with --export or --ingest")
    if reparse and not cache_path.exists():
        raise MissingInputError(f"{cache_path}: no cache to re-parse (run `alttrain synthesize` first)")
    executor = _executor(config, run_dir, console, reparse=reparse, export=export, ingest=ingest)
    job = SynthesisJob(config.synthesis, config.structure)
    shown = console is not None and executor.streams_rows
    with ResponseCache(cache_path) as cache, SynthesisProgress(prompts.height, enabled=shown, console=console) as bar:
        stale = cache.stale_entries()
        execution = executor.run(prompts.to_dicts(), job, cache, on_row=bar)
    rows = [row for row in execution.rows if row is not None]
    schema = OWN_SCHEMA if config.synthesis.own_traces else SYNTHESIZED_SCHEMA
    frame, path = pl.DataFrame(rows, schema=schema), run_dir / SYNTHESIZED_FILE
    if execution.pending_rows:
        path.unlink(missing_ok=True)  # rows of an older config would pass for this one's (the stage stamp)
    elif frame.height != prompts.height:
        raise RuntimeError(f"synthesis lost rows: {prompts.height} prompts, {frame.height} rows")
    else:
        write_stage(frame, path, "synthesized")
        executor.rows_written()
        if execution.report is not None:
            execution.report.write(run_dir / SCALEOUT_FILE, SYNTHESIS_STAGE.name)
    ok = frame.filter(frame["status"] == STATUS_OK).height
    kinds = frame["reason"].drop_nulls().str.split(":").list.first().value_counts()
    return SynthesisResult(
        path=path,
        cache_path=cache_path,
        rows=frame.height,
        ok=ok,
        quarantined=frame.height - ok,
        reasons=dict(zip(kinds["reason"].to_list(), kinds["count"].to_list(), strict=True)),
        requests_sent=execution.requests_sent,
        cache_hits=execution.stats.cache_hits,
        retries=execution.stats.retries,
        prompt_tokens=int(frame["prompt_tokens"].sum()),
        completion_tokens=int(frame["completion_tokens"].sum()),
        elapsed_s=execution.elapsed_s,
        reparsed=reparse,
        stale_cache_entries=stale,
        pending_rows=execution.pending_rows,
        executor=executor.kind,
        execution=execution,
        samples=sample_counts(frame),
    )


def _executor(
    config: SynthesisView, run_dir: Path, console: Console | None, *, reparse: bool, export: bool, ingest: bool
) -> Executor[Any]:
    """``synthesis.executor``; ``--reparse``: the local one, cache only; ``--export``/``--ingest``: batch files."""
    from alttrain.execution.batch.executor import BatchExecutor
    from alttrain.execution.local import LocalExecutor, LocalSettings
    from alttrain.execution.registry import make_executor

    settings = config.synthesis.executor
    if reparse:
        return LocalExecutor(LocalSettings(), run_dir, console, offline=True)
    if export or ingest:
        return BatchExecutor.for_files(settings, run_dir, console, "ingest" if ingest else "export")
    return make_executor(settings, run_dir, console)


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
    if result.samples:
        counted = " + ".join(f"{count} {outcome}" for outcome, count in result.samples.items())
        say(console, f"  samples: {sum(result.samples.values())} = {counted}")
    if result.execution is not None:
        from alttrain.execution.registry import EXECUTORS

        EXECUTORS[result.executor].show(console, result.execution)
    if result.stale_cache_entries:
        say(console, f"  note: the cache holds {result.stale_cache_entries} answers from an older alttrain (another "
                     "cache-key version); they were not reused")
    if result.pending_requests:
        from alttrain.execution.batch.files import vllm_command

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
