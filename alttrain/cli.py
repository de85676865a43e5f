"""The ``alttrain`` command line: a command per stage of :data:`alttrain.pipeline.STAGES`, ``review`` and ``run``.

Every command reads ``--config`` and ``--run-dir``. An error a user can fix (any
:class:`~alttrain.errors.AlttrainError`) is printed as one line, without a traceback, and exits 2.
"""

from __future__ import annotations

import inspect
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from alttrain.config import RunConfig, load_config, write_resolved
from alttrain.console import say
from alttrain.curation.review.stage import (
    run_review_pull,
    run_review_push,
    show_review_pull,
    show_review_push,
    start_argilla,
)
from alttrain.curation.review.view import ReviewView
from alttrain.errors import AlttrainError
from alttrain.layout import ADAPTER_DIR, CARD_FILE, DATASET_DIR, DATASHEET_FILE, EVAL_REPORT_MD
from alttrain.pipeline import STAGES, run_stage, selected_stages
from alttrain.stage import Stage

app = typer.Typer(
    help="alttrain: safety-align reasoning models through their data (the AltTrain recipe).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # a traceback must never print a config's or a client's values
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


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn an :class:`AlttrainError` into one unwrapped error line and exit code 2."""
    try:
        yield
    except AlttrainError as error:
        console.print(f"[bold red]error:[/bold red] {escape(str(error))}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=2) from None


def _open_run(config_path: Path, run_dir: Path | None) -> tuple[RunConfig, Path]:
    """Load the config, resolve the run directory and write the resolved config into it."""
    config = load_config(config_path)
    run_dir = run_dir or Path("runs") / config.name
    written = write_resolved(config, run_dir)
    console.print(f"[dim]config resolved to {escape(str(written))}[/dim]", highlight=False, soft_wrap=True)
    return config, run_dir


def _pause(message: str) -> None:
    """Wait for the user to press Enter."""
    typer.prompt(message, default="", show_default=False)


def _stage_command(stage: Stage[Any, Any]) -> Callable[..., None]:
    """The command that runs ``stage`` alone, with ``--config``, ``--run-dir`` and the stage's own flags."""

    def command(config: Path, run_dir: Path | None = None, **flags: bool) -> None:
        with user_errors():
            cfg, directory = _open_run(config, run_dir)
            on = frozenset(name for name, value in flags.items() if value)
            outcome = run_stage(stage, cfg, directory, console=console, flags=on, pause=_pause, force=True)  # stamps
        stage.show(console, outcome.result, cfg.view(stage.view))

    options: dict[str, Any] = {"config": ConfigOption, "run_dir": RunDirOption}
    defaults: dict[str, Any] = {"run_dir": None}
    for name, help_text in stage.flags.items():
        options[name] = Annotated[bool, typer.Option(f"--{name}", help=help_text)]
        defaults[name] = False
    kind = inspect.Parameter.KEYWORD_ONLY
    command.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter(name, kind, default=defaults.get(name, inspect.Parameter.empty), annotation=annotation)
         for name, annotation in options.items()]
    )
    command.__annotations__ = {**options, "return": None}
    command.__doc__ = stage.summary
    return command


for _stage in STAGES:
    if _stage.command:
        app.command(name=_stage.name)(_stage_command(_stage))


def _review_command(run: Callable[[ReviewView, Path], Any], show: Callable[[Console, Any, ReviewView], None],
                    summary: str) -> Callable[..., None]:
    """A ``review`` sub-command that runs one part of the round and shows its result."""

    def command(config: ConfigOption, run_dir: RunDirOption = None) -> None:
        with user_errors():
            cfg, directory = _open_run(config, run_dir)
            view = cfg.view(ReviewView)
            result = run(view, directory)
        show(console, result, view)

    command.__doc__ = summary
    return command


review_app.command("push")(_review_command(
    run_review_push, show_review_push,
    "Send RUN/curated.parquet to Argilla (upserts by id: re-running never duplicates).",
))
review_app.command("pull")(_review_command(
    run_review_pull, show_review_pull,
    "Bring reviews back: RUN/reviewed.parquet, review rejections in RUN/rejected.parquet, a report.",
))


@review_app.command("serve")
def review_serve(config: ConfigOption, run_dir: RunDirOption = None) -> None:
    """Run a local Argilla for one reviewer (no Docker, no Elasticsearch) until Ctrl+C."""
    for signum in (signal.SIGINT, signal.SIGTERM):  # both stop what serve started, even where SIGINT was ignored
        signal.signal(signum, signal.default_int_handler)
    with user_errors():
        cfg, _directory = _open_run(config, run_dir)
        server = start_argilla(cfg.view(ReviewView), console)
    console.print("Ctrl+C stops it")
    try:
        code = server.wait()
        say(console, f"argilla-server exited with {code}; see {server.home / 'logs'}")
    except KeyboardInterrupt:
        console.print("stopping...")
    finally:
        server.stop()
    console.print("stopped the server and Redis")


ReviewOption = Annotated[bool, typer.Option("--review", help="Pause after curation for a review in Argilla.")]
ForceOption = Annotated[bool, typer.Option("--force", help="Run every stage, even those whose outputs are fresh.")]


@app.command()
def run(config: ConfigOption, run_dir: RunDirOption = None, review: ReviewOption = False,
        force: ForceOption = False) -> None:
    """Run the whole loop in order; stages whose inputs and config are unchanged are skipped."""
    timings: list[tuple[str, str, float]] = []
    with user_errors():
        cfg, directory = _open_run(config, run_dir)
        for stage in selected_stages(cfg, optional=frozenset({"review"}) if review else frozenset()):
            console.rule(f"[bold]{stage.name}")
            outcome = run_stage(stage, cfg, directory, console=console, pause=_pause, force=force)
            if outcome.skipped:
                console.print("[dim]skipped: its outputs are fresh (same config and inputs)[/dim]")
            else:
                stage.show(console, outcome.result, cfg.view(stage.view))
            timings.append((stage.name, "skipped" if outcome.skipped else "ran", outcome.seconds))
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
    for what, path in (("datasheet", DATASHEET_FILE), ("dataset card", CARD_FILE), ("dataset", DATASET_DIR),
                       ("model", ADAPTER_DIR), ("eval report", EVAL_REPORT_MD)):
        if (run_dir / path).exists():
            say(console, f"{what}: {run_dir / path}")
