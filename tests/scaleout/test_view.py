"""scaleout.view: the pool's line, the refused node-cache answers and one table row per actor."""

from rich.console import Console

from alttrain.scaleout.accounting import ActorAccounting, ScaleoutReport
from alttrain.scaleout.view import show_scaleout


def test_the_view_shows_the_pool_the_refusals_and_each_actor_with_its_restarts() -> None:
    actors = [ActorAccounting("actor-aaaaaaaaaaaa-long", "node-1", pids=[1, 2], restarts=1, batches=3, rows=9,
                              busy_s=2.25, sent=11, cache_hits=1, retries=2, failures=0)]  # fmt: skip
    report = ScaleoutReport(executor="ray", rows=9, requests_sent=11, elapsed_s=3.0, actors=2, batch_size=4,
                            cpus_per_actor=1.0, gpus_per_actor=0.0, rows_from_cache=1, recovered_entries=3,
                            refused_entries={"node n c.sqlite: another teacher": 2}, merged_entries=7,
                            per_actor=actors)  # fmt: skip
    console = Console(record=True, width=200)
    show_scaleout(console, report)
    text = console.export_text()
    assert "executor ray on a local cluster: 2 actors x 1.0 CPU, 0.0 GPU, batches of 4" in text
    assert "1 rows from the run's cache, 3 answers recovered from node caches, 7 new answers merged" in text
    assert "2 node-cache answers refused, never merged: node n c.sqlite: another teacher (2)" in text
    line = next(line for line in text.splitlines() if "actor-aaaaaa" in line)
    cells = [cell.strip() for cell in line.strip().strip("│").split("│")]
    assert cells == ["actor-aaaaaa", "node-1", "1", "3", "9", "2.2", "11", "1", "2", "0"]  # the id cut to 12


def test_the_view_says_when_the_driver_worked_batches_and_lists_it_as_a_worker() -> None:
    workers = [ActorAccounting("driver", "node-1", pids=[1], batches=2, rows=8, busy_s=1.0, sent=8)]
    report = ScaleoutReport(executor="ray", rows=8, requests_sent=8, elapsed_s=1.5, actors=1, batch_size=4,
                            cpus_per_actor=1.0, gpus_per_actor=0.0, per_actor=workers, driver_worked=True)  # fmt: skip
    console = Console(record=True, width=200)
    show_scaleout(console, report)
    text = console.export_text()
    assert "1 actors x 1.0 CPU, 0.0 GPU, the driver working batches too, batches of 4" in text
    assert any(line.strip("│ ").startswith("driver") for line in text.splitlines())
