"""``executor: {kind: ray, ...}``: the job on a pool of Ray actors, one teacher client per actor.

The actor machinery is :mod:`alttrain.scaleout` (:func:`~alttrain.scaleout.driver.run_on_ray`); this is the
executor in front of it. The options are :class:`~alttrain.scaleout.config.RayConfig`'s.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from alttrain.execution.base import Execution, Executor
from alttrain.scaleout.config import RayConfig

if TYPE_CHECKING:
    from rich.console import Console

    from alttrain.execution.jobs import ClientJob, Row, RowCallback
    from alttrain.llm.cache import ResponseCache


class RaySettings(RayConfig):
    """``executor: {kind: ray, address: ..., actors: ..., ...}``: where the cluster is and the pool's shape."""

    kind: Literal["ray"] = "ray"


class RayExecutor(Executor[RaySettings]):
    """The actor pool of ``settings``; rows come back in record order, every answer merged into the run's cache."""

    kind = "ray"
    settings_class = RaySettings
    distributed = True

    def run(self, records: list[Row], job: ClientJob, cache: ResponseCache, *,
            on_row: RowCallback | None = None) -> Execution:  # fmt: skip
        """Run ``job`` on the pool (:func:`~alttrain.scaleout.driver.run_on_ray`)."""
        from alttrain.scaleout.driver import run_on_ray

        run = run_on_ray(records, job, cache, self.settings, on_row=on_row)
        return Execution(list(run.rows), run.stats, run.report.elapsed_s, run.report,
                         requests_sent=run.stats.sent)

    @staticmethod
    def show(console: Console, execution: Execution) -> None:
        """The pool's settings and each actor's accounting."""
        from alttrain.scaleout.view import show_scaleout

        if execution.report is not None:
            show_scaleout(console, execution.report)
