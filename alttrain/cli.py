"""The ``alttrain`` command line: one sub-command per stage, each reading ``--config`` and ``--run-dir``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from alttrain.config import ConfigError, RunConfig, load_config, write_resolved
from alttrain.records import SchemaError
from alttrain.stages import run_prompts
from alttrain.synthesis.sources import SourceError

app = typer.Typer(
    help="alttrain: safety-align reasoning models through their data (the AltTrain recipe).",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()

ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="Run config (YAML).")]
RunDirOption = Annotated[
    Path | None, typer.Option("--run-dir", "-r", help="Run directory (default: runs/<config name>).")
]

USER_ERRORS = (ConfigError, SchemaError, SourceError, FileNotFoundError)


def _open_run(config_path: Path, run_dir: Path | None) -> tuple[RunConfig, Path]:
    """Load the config, resolve the run directory and write the resolved config into it."""
    config = load_config(config_path)
    run_dir = run_dir or Path("runs") / config.name
    written = write_resolved(config, run_dir)
    console.print(f"[dim]config resolved to {written}[/dim]")
    return config, run_dir


def _fail(error: Exception) -> None:
    """Print a user error without a traceback and exit non-zero."""
    console.print(f"[bold red]error:[/bold red] {error}", highlight=False)
    raise typer.Exit(code=2)


@app.command()
def prompts(config: ConfigOption, run_dir: RunDirOption = None) -> None:
    """Build RUN/prompts.parquet from the configured prompt sources."""
    try:
        cfg, directory = _open_run(config, run_dir)
        result = run_prompts(cfg, directory)
    except USER_ERRORS as error:
        _fail(error)
        return
    table = Table(title="prompt pool")
    for column in ("source", "license", "loaded", "sampled", "merged", "kept", "harmful", "benign"):
        table.add_column(column, justify="left" if column in {"source", "license"} else "right")
    for row in result.sources:
        table.add_row(
            row.source, row.license, *map(str, (row.loaded, row.sampled, row.duplicates_merged, row.kept)),
            str(row.harmful), str(row.benign),
        )
    console.print(table)
    console.print(f"wrote {result.path} ({result.rows} prompts)")


def _not_built(stage: str, issue: str) -> None:
    """Say that a stage is not built yet and exit non-zero."""
    console.print(f"[yellow]stage {stage!r} is not built yet ({issue}).[/yellow]")
    raise typer.Exit(code=3)


@app.command()
def synthesize(config: ConfigOption, run_dir: RunDirOption = None) -> None:
    """Ask the teacher for traces in the AltTrain structure: RUN/synthesized.parquet."""
    _not_built("synthesize", "the synthesis engine")


@app.command()
def curate(config: ConfigOption, run_dir: RunDirOption = None) -> None:
    """Filter, deduplicate and select the balanced set: RUN/curated.parquet + RUN/rejected.parquet."""
    _not_built("curate", "curation")


@app.command()
def review(config: ConfigOption, run_dir: RunDirOption = None) -> None:
    """Human review in Argilla: push candidates, pull verdicts and edits back."""
    _not_built("review", "human review in Argilla")


@app.command()
def datasheet(config: ConfigOption, run_dir: RunDirOption = None) -> None:
    """Write the datasheet, the dataset card, figures and exports."""
    _not_built("datasheet", "datasheets and exports")


@app.command()
def train(config: ConfigOption, run_dir: RunDirOption = None) -> None:
    """LoRA/QLoRA SFT on the curated dataset: RUN/model/."""
    _not_built("train", "training")


@app.command(name="eval")
def evaluate(config: ConfigOption, run_dir: RunDirOption = None) -> None:
    """Evaluate base vs tuned: harmful rate, over-refusal, accuracy, structure, length."""
    _not_built("eval", "evaluation")


@app.command()
def run(config: ConfigOption, run_dir: RunDirOption = None) -> None:
    """Run every built stage in order, skipping nothing yet."""
    prompts(config, run_dir)
