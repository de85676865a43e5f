"""The executor contract: a job's records in, one row per record in order, the same accounting out.

An :class:`Executor` runs a :class:`~alttrain.execution.jobs.ClientJob` through teacher clients over the
run's response cache and returns an :class:`Execution`: the rows, the client counts, and the
:class:`~alttrain.scaleout.accounting.ScaleoutReport` that ``RUN/scaleout.json`` holds (the batch executor
also keeps ``RUN/batches.json``). What executors differ in is said by their class attributes and
:meth:`Executor.teacher_problem`, never by their name; :mod:`alttrain.execution.registry` lists them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Generic, TypeVar

from pydantic import BaseModel

from alttrain.llm.client import ClientStats
from alttrain.llm.config import TeacherConfig

if TYPE_CHECKING:
    from rich.console import Console

    from alttrain.execution.batch.state import BatchAccounting
    from alttrain.execution.jobs import ClientJob, Row, RowCallback
    from alttrain.llm.cache import ResponseCache
    from alttrain.scaleout.accounting import ScaleoutReport

SettingsT = TypeVar("SettingsT", bound=BaseModel)


@dataclass(frozen=True)
class Execution:
    """What an executor made: one row per record in order (None: still waiting), its counts and its report."""

    rows: list[Row | None]
    stats: ClientStats
    elapsed_s: float
    report: ScaleoutReport | None  # RUN/scaleout.json; None: nothing could be sent (answered from the cache alone)
    batches: BatchAccounting | None = None  # the batch executor's accounting over the run (RUN/batches.json)
    requests_sent: int = 0  # to the teacher, retries included; batches: requests submitted or ingested
    pending_requests: int = 0  # written to ``pending_file`` for `vllm run-batch`; their rows are None
    pending_file: Path | None = None

    @property
    def pending_rows(self) -> int:
        """Rows still waiting for answers."""
        return sum(row is None for row in self.rows)


class Executor(ABC, Generic[SettingsT]):
    """Runs jobs with the settings of its ``executor:`` section.

    Args:
        settings: the executor section (``executor: {kind: ..., ...}``).
        run_dir: the run directory (where an executor keeps its own files).
        console: where progress lines go (None: nowhere).

    """

    kind: ClassVar[str]
    settings_class: ClassVar[type[BaseModel]]
    #: whether rows come back one by one while the stage waits (a progress bar can count them)
    streams_rows: ClassVar[bool] = True
    #: whether it answers while the stage waits (a batch may take a day: not for evaluation's generation)
    interactive: ClassVar[bool] = True
    #: whether the work leaves this process (evaluation: only models reached through the teacher client can)
    distributed: ClassVar[bool] = False

    def __init__(self, settings: SettingsT, run_dir: Path, console: Console | None = None) -> None:
        self.settings, self.run_dir, self.console = settings, run_dir, console

    @classmethod
    def teacher_problem(cls, teacher: TeacherConfig) -> str | None:
        """Why this executor cannot carry ``teacher``'s requests (None: it can)."""
        return None

    @abstractmethod
    def run(self, records: list[Row], job: ClientJob, cache: ResponseCache, *,
            on_row: RowCallback | None = None) -> Execution:  # fmt: skip
        """One row per record through ``job``; every answer ends up in ``cache``.

        Raises:
            TeacherAccessError: the endpoint refused the run (answers received before stay cached).
            ConfigError: the executor cannot run here (Ray missing, a teacher it cannot carry).

        """

    def rows_written(self) -> None:
        """Called once the stage wrote every row (the batch executor closes its session in ``batches.json``)."""

    @staticmethod
    def show(console: Console, execution: Execution) -> None:
        """Show the executor's own accounting after the stage's counts (nothing by default)."""
