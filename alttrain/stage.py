"""The stage contract: what every step of the loop declares, so one list drives ``alttrain run``, the CLI and the API.

A stage names the config sections and run files it reads (its fingerprint is made of exactly those),
the files it writes, the function that runs it and the view that shows its result. The stage list
lives in :mod:`alttrain.pipeline`; adding a stage is one module defining a :class:`Stage` plus one
line in that list.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Generic, TypeVar

from rich.console import Console

if TYPE_CHECKING:
    from alttrain.config import RunConfig

R = TypeVar("R")


@dataclass(frozen=True)
class StageContext:
    """What a stage runs with: the config, the run directory, and where to talk.

    ``console`` receives progress bars and messages (None runs quietly, as the Python API does);
    ``flags`` holds the stage's own switches that are on (``reparse`` for synthesis); ``pause`` blocks
    until a person is ready (the review stage waits for its reviewer there).
    """

    config: RunConfig
    run_dir: Path
    console: Console | None = None
    flags: frozenset[str] = frozenset()
    pause: Callable[[str], object] = input

    def say(self, message: str) -> None:
        """Print a dim progress message when there is a console."""
        if self.console is not None:
            self.console.print(f"[dim]{message}[/dim]", highlight=False, soft_wrap=True)


def _always(config: RunConfig) -> bool:
    return True


@dataclass(frozen=True)
class Stage(Generic[R]):
    """One step of the loop.

    Attributes:
        name: the stage's name (``alttrain <name>`` runs it alone; stamps are ``RUN/.stages/<name>.json``).
        summary: one line, the command's help.
        sections: the :class:`~alttrain.config.RunConfig` sections whose values shape the output.
        inputs: run-directory paths it reads (files or folders; absent ones count as absent).
        outputs: run-directory paths it writes; all must exist for the stage to be skipped as fresh.
        run: runs the stage and returns its result.
        show: prints the result.
        enabled: whether the config asks for the stage at all (the teacher probe needs ``synthesis.probe``).
        optional: runs in ``alttrain run`` only when asked for (``--review``).
        command: whether ``alttrain <name>`` exists (review has its own sub-commands).
        flags: the stage command's extra switches, name -> help (each becomes ``--<name>``).

    """

    name: str
    summary: str
    sections: tuple[str, ...]
    inputs: tuple[str | Path, ...]
    outputs: tuple[str | Path, ...]
    run: Callable[[StageContext], R]
    show: Callable[[Console, R, RunConfig], None]
    enabled: Callable[[RunConfig], bool] = _always
    optional: bool = False
    command: bool = True
    flags: Mapping[str, str] = field(default_factory=dict)


def on_run_dir(function: Callable[[RunConfig, Path], R]) -> Callable[[StageContext], R]:
    """Adapt a ``function(config, run_dir)`` stage function to :attr:`Stage.run` (it needs no console or flags)."""

    def run(context: StageContext) -> R:
        return function(context.config, context.run_dir)

    return run
