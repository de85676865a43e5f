"""The stage contract: what every step of the loop declares, so one list drives ``alttrain run``, the CLI and the API.

A stage names the config view it reads (a :class:`StageView` whose fields are the run config sections it
uses) and the run files it reads (its fingerprint is made of exactly those), the files it writes, the
function that runs it and the function that shows its result. The stage list lives in
:mod:`alttrain.pipeline`, which builds each stage's view from the run config; adding a stage is one module
defining a :class:`Stage` plus one line in that list.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict
from rich.console import Console


class StageView(BaseModel):
    """The part of the run config one stage reads: each field is named after a run config section (or ``name``).

    The pipeline fills it from :class:`~alttrain.config.RunConfig`, and the stage's fingerprint hashes it, so
    a stage re-runs exactly when something it can read changes.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")


class SectionPart(BaseModel):
    """The fields a stage reads of another stage package's section, filled from that section by attribute.

    A view field typed with a part (``synthesis: TeacherPart``) holds those fields alone: the stage imports
    nothing of the other package, and its fingerprint covers only what it reads there.
    """

    model_config = ConfigDict(frozen=True, from_attributes=True)


V = TypeVar("V", bound=StageView)
R = TypeVar("R")


@dataclass(frozen=True)
class StageContext(Generic[V]):
    """What a stage runs with: its config view, the run directory, and where to talk.

    ``console`` receives progress bars and messages (None runs quietly, as the Python API does);
    ``flags`` holds the stage's own switches that are on (``reparse`` for synthesis); ``pause`` blocks
    until a person is ready (the review stage waits for its reviewer there).
    """

    config: V
    run_dir: Path
    console: Console | None = None
    flags: frozenset[str] = frozenset()
    pause: Callable[[str], object] = input

    def say(self, message: str) -> None:
        """Print a dim progress message when there is a console."""
        if self.console is not None:
            self.console.print(f"[dim]{message}[/dim]", highlight=False, soft_wrap=True)


def _always(config: StageView) -> bool:
    return True


@dataclass(frozen=True)
class Stage(Generic[V, R]):
    """One step of the loop.

    Attributes:
        name: the stage's name (``alttrain <name>`` runs it alone; stamps are ``RUN/.stages/<name>.json``).
        summary: one line, the command's help.
        view: the :class:`StageView` type it reads: the run config sections whose values shape the output.
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
    view: type[V]
    inputs: tuple[str | Path, ...]
    outputs: tuple[str | Path, ...]
    run: Callable[[StageContext[V]], R]
    show: Callable[[Console, R, V], None]
    enabled: Callable[[V], bool] = _always
    optional: bool = False
    command: bool = True
    flags: Mapping[str, str] = field(default_factory=dict)

    @property
    def sections(self) -> tuple[str, ...]:
        """The run config sections the stage reads: its view's fields."""
        return tuple(self.view.model_fields)


def on_run_dir(function: Callable[[V, Path], R]) -> Callable[[StageContext[V]], R]:
    """Adapt a ``function(config, run_dir)`` stage function to :attr:`Stage.run` (it needs no console or flags)."""

    def run(context: StageContext[V]) -> R:
        return function(context.config, context.run_dir)

    return run
