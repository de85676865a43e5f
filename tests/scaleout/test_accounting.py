"""scaleout.accounting: the driver's ledger of the actors' cumulative counts, and the report scaleout.json holds."""

import json
from dataclasses import asdict
from pathlib import Path

from alttrain.llm.client import ClientStats
from alttrain.scaleout.accounting import STAT_FIELDS, ActorAccounting, Ledger, ScaleoutReport


def batch(actor: str, pid: int, report: int, rows: int, **counts: float) -> dict:
    """The stats line of one finished batch: the process's counts so far (cumulative), numbered by ``report``."""
    return {"actor": actor, "node": "node-1", "pid": pid, "reconstructed": False, "report": report, "rows": rows,
            "busy_s": 0.0,
            **asdict(ClientStats()), **counts}  # fmt: skip


def test_each_process_counts_once_by_its_latest_report_and_a_restart_adds_up() -> None:
    ledger = Ledger()
    ledger.add(batch("a", 10, report=1, rows=4, sent=4, answered=4, busy_s=1.0))
    ledger.add(batch("a", 10, report=3, rows=4, sent=9, answered=8, busy_s=3.0))
    ledger.add(batch("a", 10, report=2, rows=4, sent=6, answered=6, busy_s=2.0))  # arrived late: not the latest
    ledger.add(batch("a", 11, report=1, rows=2, sent=2, answered=2, retries=1, busy_s=0.5, reconstructed=True))
    ledger.add(batch("b", 20, report=1, rows=3, sent=3, answered=3, cache_hits=1, busy_s=1.5))
    a, b = ledger.actors["a"], ledger.actors["b"]
    assert (a.pids, a.restarts, a.batches, a.rows) == ([10, 11], 1, 4, 14)  # every batch counts for its rows
    assert b.restarts == 0
    assert (a.sent, a.answered, a.retries, a.busy_s) == (9 + 2, 8 + 2, 1, 3.5)  # latest of each process, summed
    assert (b.sent, b.cache_hits) == (3, 1)
    stats = ledger.stats(cache_hits=5)
    assert (stats.sent, stats.answered, stats.cache_hits, stats.retries) == (14, 13, 6, 1)  # + the driver's hits
    assert set(STAT_FIELDS) == set(asdict(stats))


def test_the_report_counts_restarts_per_actor_and_is_written_whole(tmp_path: Path) -> None:
    actors = [ActorAccounting("a", "n", pids=[2, 3], restarts=2, rows=5), ActorAccounting("b", "n", pids=[4], rows=1)]
    report = ScaleoutReport(executor="ray", rows=6, requests_sent=7, elapsed_s=1.5, actors=2, per_actor=actors)
    path = tmp_path / "scaleout.json"
    report.write(path, "synthesize")
    written = json.loads(path.read_text())
    assert written == report.as_json("synthesize") and written["stage"] == "synthesize"
    assert [(actor["actor"], actor["restarts"]) for actor in written["per_actor"]] == [("a", 2), ("b", 0)]
    assert not list(tmp_path.glob("*.tmp"))
    local = ScaleoutReport(executor="local", rows=6, requests_sent=7, elapsed_s=0.5).as_json("synthesize")
    assert local.keys() == written.keys() and (local["actors"], local["per_actor"]) == (1, [])
