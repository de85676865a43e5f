"""The summary a stage shows after a Ray run: the pool, the cache traffic, and one line per actor."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from alttrain.console import say
from alttrain.scaleout.accounting import ScaleoutReport


def show_scaleout(console: Console, report: ScaleoutReport) -> None:
    """The executor's settings and counts, then a table of the workers' accounting (the driver as ``driver``)."""
    where = report.address or "a local cluster"
    driver = ", the driver working batches too" if report.driver_worked else ""
    say(console, f"  executor ray on {where}: {report.actors} actors x {report.cpus_per_actor} CPU, "
                 f"{report.gpus_per_actor} GPU{driver}, batches of {report.batch_size}; {report.rows_from_cache} rows "
                 f"from the run's cache, {report.recovered_entries} answers recovered from node caches, "
                 f"{report.merged_entries} new answers merged into it")  # fmt: skip
    if report.refused_entries:
        say(console, f"  {sum(report.refused_entries.values())} node-cache answers refused, never merged: "
                     + "; ".join(f"{what} ({count})" for what, count in sorted(report.refused_entries.items())))
    table = Table(title="actors (RUN/scaleout.json)")
    columns = ("actor", "node", "restarts", "batches", "rows", "busy s", "sent", "cache hits", "retries", "failures")
    for column in columns:
        table.add_column(column, justify="left" if column in ("actor", "node") else "right")
    for actor in report.per_actor:
        table.add_row(actor.actor[:12], actor.node[:12], str(actor.restarts), str(actor.batches),
                      str(actor.rows), f"{actor.busy_s:.1f}", str(actor.sent), str(actor.cache_hits),
                      str(actor.retries), str(actor.failures))
    console.print(table)
