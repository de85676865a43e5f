"""Every executor, by the ``kind`` its ``executor:`` section names: adding one is a module and a line here."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from alttrain.execution.base import Executor
from alttrain.execution.batch.executor import BatchExecutor
from alttrain.execution.local import LocalExecutor
from alttrain.execution.ray import RayExecutor

if TYPE_CHECKING:
    from pydantic import BaseModel
    from rich.console import Console

EXECUTORS: dict[str, type[Executor[Any]]] = {
    "local": LocalExecutor,
    "ray": RayExecutor,
    "batch": BatchExecutor,
}


def executor_class(settings: BaseModel) -> type[Executor[Any]]:
    """The executor an ``executor:`` section (its ``kind``) names."""
    return EXECUTORS[settings.kind]


def make_executor(settings: BaseModel, run_dir: Path, console: Console | None = None) -> Executor[Any]:
    """The executor of an ``executor:`` section, for one run directory."""
    return executor_class(settings)(settings, run_dir, console)
