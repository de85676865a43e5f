"""The ``alttrain`` command line: one sub-command per stage, each reading ``--config`` and ``--run-dir``."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from alttrain import views
from alttrain.config import ConfigError, RunConfig, load_config, write_resolved
from alttrain.curation.errors import CurationError
from alttrain.curation.review.config import API_URL_ENV, ReviewConfigError
from alttrain.curation.review.errors import ReviewDataError, ReviewError
from alttrain.curation.review.server.local import LocalArgilla, start_local_argilla
from alttrain.curation.review.server.venv import ServerSetupError
from alttrain.datasheets.inputs import DatasheetError
from alttrain.pipeline import STAGES, run_stage
from alttrain.records import SchemaError
from alttrain.stages import (
    run_curation,
    run_datasheet,
    run_evaluation,
    run_prompts,
    run_review_pull,
    run_review_push,
    run_synthesis,
    run_training,
)
from alttrain.synthesis.client import CacheMissError
from alttrain.synthesis.sources import SourceError
from alttrain.training.errors import TrainingError

app = typer.Typer(
    help="alttrain: safety-align reasoning models through their data (the AltTrain recipe).",
    no_args_is_help=True,
    add_completion=False,
)
review_app = typer.Typer(
    help="Human review in Argilla: push candidates, pull verdicts and edits back, or serve Argilla locally.",
    no_args_is_help=True,
)
app.add_typer(review_app, name="review")
console = Console()

ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="Run config (YAML).")]
RunDirOption = Annotated[
    Path | None, typer.Option("--run-dir", "-r", help="Run directory (default: runs/<config name>).")
]

# Errors a user can fix (config, inputs, services): printed without a traceback, exit code 2.
USER_ERRORS = (
    ConfigError, SchemaError, SourceError, FileNotFoundError, CacheMissError, CurationError, DatasheetError,
    TrainingError, ReviewError, ReviewDataError, ReviewConfigError, ServerSetupError,
)  # fmt: skip

#: how ``run`` shows each pipeline stage's result
STAGE_VIEWS: dict[str, Callable[[Console, Any, RunConfig], None]] = {
    "prompts": views.show_prompts,
    "synthesize": views.show_synthesis,
    "teacher_probe": views.show_teacher_probe,
    "curate": views.show_curation,
    "datasheet": views.show_datasheet,
    "train": views.show_training,
    "eval": views.show_evaluation,
}


def _open_run(config_path: Path, run_dir: Path | None) -> tuple[RunConfig, Path]:
    """Load the config, resolve the run directory and write the resolved config into it."""
    config = load_config(config_path)
    run_dir = run_dir or Path("runs") / config.name
    written = write_resolved(config, run_dir)
    console.print(f"[dim]config resolved to {written}[/dim]")
    return config, run_dir


def _fail(error: Exception) -> NoReturn:
    """Print a user error without a traceback and exit 2."""
    console.print(f"[bold red]error:[/bold red] {error}", highlight=False)
    raise typer.Exit(code=2)


def _stage(
    config_path: Path,
    run_dir: Path | None,
    run: Callable[[RunConfig, Path], Any],
    show: Callable[[Console, Any, RunConfig], None],
) -> None:
    """Run one stage from the command line and show its result; user errors exit 2."""
    try:
        config, directory = _open_run(config_path, run_dir)
        result = run(config, directory)
    except USER_ERRORS as error:
        _fail(error)
    show(console, result, config)


@app.command()
def prompts(config: ConfigOption, run_dir: RunDirOption = None) -> None:
    """Build RUN/prompts.parquet from the configured prompt sources."""
    _stage(config, run_dir, run_prompts, views.show_prompts)


ReparseOption = Annotated[
    bool, typer.Option("--reparse", help="Rebuild every row from RUN/cache.sqlite alone; send nothing.")
]


@app.command()
def synthesize(config: ConfigOption, run_dir: RunDirOption = None, reparse: ReparseOption = False) -> None:
    """Ask the teacher for traces in the AltTrain structure: RUN/synthesized.parquet."""
    _stage(
        config,
        run_dir,
        lambda cfg, directory: run_synthesis(cfg, directory, reparse=reparse, progress=True),
        lambda out, result, cfg: views.show_synthesis(out, result, cfg, reparse=reparse),
    )


@app.command()
def curate(config: ConfigOption, run_dir: RunDirOption = None) -> None:
    """Filter, deduplicate and select the balanced set: RUN/curated.parquet + RUN/rejected.parquet."""
    _stage(config, run_dir, run_curation, views.show_curation)


@review_app.command("push")
def review_push(config: ConfigOption, run_dir: RunDirOption = None) -> None:
    """Send RUN/curated.parquet to Argilla (upserts by id: re-running never duplicates)."""
    _stage(config, run_dir, run_review_push, views.show_review_push)


@review_app.command("pull")
def review_pull(config: ConfigOption, run_dir: RunDirOption = None) -> None:
    """Bring reviews back: RUN/reviewed.parquet, review rejections in RUN/rejected.parquet, a report."""
    _stage(config, run_dir, run_review_pull, views.show_review_pull)


def _start_argilla(config: RunConfig) -> LocalArgilla:
    """Start the local Argilla and print how to reach it."""
    server = start_local_argilla(config.review.server, on_step=lambda step: console.print(f"[dim]{step}[/dim]"))
    creds = server.credentials
    console.print(f"[bold green]Argilla is up[/bold green] at {server.url} ({server.started_s:.0f} s)")
    console.print(f"  log in as {creds.username} / {creds.password}", highlight=False)
    console.print(f"  for push/pull: export ARGILLA_API_URL={server.url} {config.review.api_key_env}={creds.api_key}")
    console.print(f"  state (database, logs, credentials): {server.home}", highlight=False)
    return server


@review_app.command("serve")
def review_serve(config: ConfigOption, run_dir: RunDirOption = None) -> None:
    """Run a local Argilla for one reviewer (no Docker, no Elasticsearch) until Ctrl+C."""
    for signum in (signal.SIGINT, signal.SIGTERM):  # both stop what serve started, even where SIGINT was ignored
        signal.signal(signum, signal.default_int_handler)
    try:
        cfg, _directory = _open_run(config, run_dir)
        server = _start_argilla(cfg)
    except USER_ERRORS as error:
        _fail(error)
    console.print("Ctrl+C stops it")
    try:
        code = server.wait()
        console.print(f"[bold red]argilla-server exited with {code}[/bold red]; see {server.home / 'logs'}")
    except KeyboardInterrupt:
        console.print("stopping...")
    finally:
        server.stop()
    console.print("stopped the server and Redis")


@app.command()
def datasheet(config: ConfigOption, run_dir: RunDirOption = None) -> None:
    """Write the datasheet, the dataset card, figures and exports: RUN/datasheet/ and RUN/dataset/."""
    _stage(config, run_dir, run_datasheet, views.show_datasheet)


@app.command()
def train(config: ConfigOption, run_dir: RunDirOption = None) -> None:
    """LoRA/QLoRA SFT on the curated dataset: RUN/model/."""
    _stage(config, run_dir, run_training, views.show_training)


@app.command(name="eval")
def evaluate(config: ConfigOption, run_dir: RunDirOption = None) -> None:
    """Evaluate base vs tuned: harmful rate, over-refusal, accuracy, structure, length: RUN/eval/."""

    def run(cfg: RunConfig, directory: Path) -> Any:
        return run_evaluation(cfg, directory, progress=lambda message: console.print(f"[dim]{message}[/dim]"))

    _stage(config, run_dir, run, views.show_evaluation)


def _review_round(config: RunConfig, run_dir: Path) -> float:
    """Push to Argilla (a local one unless an API URL is configured), wait for the reviewer, pull back.

    Returns the seconds spent, waiting included.
    """
    start = time.perf_counter()
    server = None
    if not (config.review.api_url or os.environ.get(API_URL_ENV)):
        server = _start_argilla(config)
        os.environ[API_URL_ENV] = server.url  # this process only: never written anywhere
        os.environ[config.review.api_key_env] = server.credentials.api_key
    try:
        views.show_review_push(console, run_review_push(config, run_dir), config)
        typer.prompt("Review in Argilla, then press Enter to pull the reviews back", default="", show_default=False)
        views.show_review_pull(console, run_review_pull(config, run_dir), config)
    finally:
        if server is not None:
            server.stop()
    return time.perf_counter() - start


ReviewOption = Annotated[bool, typer.Option("--review", help="Pause after curation for a review in Argilla.")]
ForceOption = Annotated[bool, typer.Option("--force", help="Run every stage, even those whose outputs are fresh.")]


@app.command()
def run(config: ConfigOption, run_dir: RunDirOption = None, review: ReviewOption = False,
        force: ForceOption = False) -> None:
    """Run the whole loop in order; stages whose inputs and config are unchanged are skipped."""
    try:
        cfg, directory = _open_run(config, run_dir)
    except USER_ERRORS as error:
        _fail(error)
    timings: list[tuple[str, str, float]] = []
    for stage in (s for s in STAGES if s.enabled(cfg)):
        console.rule(f"[bold]{stage.name}")
        try:
            outcome = run_stage(stage, cfg, directory, force=force)
        except USER_ERRORS as error:
            _fail(error)
        if outcome.skipped:
            console.print("[dim]skipped: its outputs are fresh (same config and inputs)[/dim]")
        else:
            STAGE_VIEWS[stage.name](console, outcome.result, cfg)
        timings.append((stage.name, "skipped" if outcome.skipped else "ran", outcome.seconds))
        if stage.name == "curate" and review:
            console.rule("[bold]review")
            try:
                timings.append(("review", "ran", _review_round(cfg, directory)))
            except USER_ERRORS as error:
                _fail(error)
    _show_run_summary(directory, timings)


def _show_run_summary(run_dir: Path, timings: list[tuple[str, str, float]]) -> None:
    """Wall time per stage and where the results are."""
    table = Table(title=f"run {run_dir}")
    for column in ("stage", "status", "seconds"):
        table.add_column(column, justify="right" if column == "seconds" else "left")
    for name, status, seconds in timings:
        table.add_row(name, status, f"{seconds:.1f}")
    table.add_row("total", "", f"{sum(seconds for *_, seconds in timings):.1f}")
    console.rule("[bold]done")
    console.print(table)
    for what, path in (("datasheet", "datasheet/DATASHEET.md"), ("dataset card", "datasheet/README.md"),
                       ("dataset", "dataset/"), ("model", "model/adapter/"), ("eval report", "eval/report.md")):
        if (run_dir / path).exists():
            console.print(f"{what}: {run_dir / path}")
