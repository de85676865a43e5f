"""Review round-trip: local server start (cold venv build vs warm), push and pull of N records vs the bare SDK.

Side by side in one run, against one local Argilla (SQLite + alttrain's SQL search engine):

- start: building the server venv from scratch (into a temporary folder; pip's own cache is used unless
  ``--no-pip-cache``) + first start, vs a warm start (venv reused, fresh state), vs a restart (same state);
- push: ``alttrain review push`` of N curated records (checks, conversion, upsert) vs the bare SDK
  ``dataset.records.log`` of the same, already-built records into a second dataset; then a re-push (updates);
- pull: ``alttrain review pull`` with one submitted review per record (fetch, decide, write parquet +
  report) vs the bare paging fetch of the same records with responses.

    .venv/bin/python bench/review.py [--records 1000] [--skip-cold] [--no-pip-cache]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import argilla as rg

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "curation" / "review"))
from review_helpers import SPEC, curated_frame  # noqa: E402  (the tests' curated-run builder)

from alttrain.curation.review.config import ReviewConfig  # noqa: E402
from alttrain.curation.review.connection import ensure_dataset  # noqa: E402
from alttrain.curation.review.dataset import to_records  # noqa: E402
from alttrain.curation.review.pull import PAGE_SIZE, pull_reviews  # noqa: E402
from alttrain.curation.review.push import push_for_review  # noqa: E402
from alttrain.records import write_stage  # noqa: E402
from alttrain.services.argilla.config import ServerConfig  # noqa: E402
from alttrain.services.argilla.local import free_port, start_local_argilla  # noqa: E402

KEY_ENV = "ALTTRAIN_BENCH_ARGILLA_KEY"


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    """Run ``action``; return seconds and its result."""
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def bench_start(work: Path, no_pip_cache: bool, skip_cold: bool) -> list[tuple[str, float]]:
    """Cold (venv build + start), warm (reused venv, fresh state) and restart (same state) start times."""
    rows = []
    if not skip_cold:
        if no_pip_cache:
            os.environ["PIP_NO_CACHE_DIR"] = "1"
        cold = ServerConfig(venv=work / "cold-venv", home=work / "cold-home", port=free_port())
        seconds, server = timed(lambda: start_local_argilla(cold))
        server.stop()
        os.environ.pop("PIP_NO_CACHE_DIR", None)
        rows.append(("start, cold (venv build + first start)", seconds))
    for label, home in (("start, warm (venv reused, new state)", "warm-home"), ("restart (same state)", "warm-home")):
        seconds, server = timed(lambda home=home: start_local_argilla(ServerConfig(home=work / home, port=free_port())))
        server.stop()
        rows.append((label, seconds))
    return rows


def respond_to_all(client: rg.Argilla, dataset: rg.Dataset) -> None:
    """One submitted review per record (accept, the pipeline's verdict), logged in bulk as the owner."""
    me = client.me.id
    records = list(dataset.records(with_suggestions=True, with_responses=False))
    for record in records:
        verdict = next(s.value for s in record.suggestions if s.question_name == "verdict")
        record.responses.add(rg.Response("decision", "accept", user_id=me, status="submitted"))
        record.responses.add(rg.Response("verdict", verdict, user_id=me, status="submitted"))
    dataset.records.log(records, batch_size=500)


def fetch_all(client: rg.Argilla, dataset: rg.Dataset) -> int:
    """The bare SDK paging fetch that pull builds on; return the number of records."""
    total, offset = 0, 0
    while page := client.api.records.list(
        dataset_id=dataset.id, offset=offset, limit=PAGE_SIZE, with_suggestions=False
    ):
        total += len(page)
        offset += PAGE_SIZE
    return total


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--skip-cold", action="store_true", help="do not build a second server venv")
    parser.add_argument("--no-pip-cache", action="store_true", help="build the cold venv without pip's cache")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        rows = bench_start(work, args.no_pip_cache, args.skip_cold)
        frame = curated_frame(harmful=args.records // 2, benign=args.records - args.records // 2)
        run_dir = work / "run"
        write_stage(frame, run_dir / "curated.parquet", "synthesized")
        with start_local_argilla(ServerConfig(home=work / "bench-home", port=free_port())) as server:
            os.environ[KEY_ENV] = server.credentials.api_key
            config = ReviewConfig(api_url=server.url, api_key_env=KEY_ENV, dataset="bench", unreviewed="keep")
            push_s, _ = timed(lambda: push_for_review(config, SPEC, run_dir, "bench"))
            repush_s, _ = timed(lambda: push_for_review(config, SPEC, run_dir, "bench"))
            client = rg.Argilla(api_url=server.url, api_key=server.credentials.api_key)
            bare_config = config.model_copy(update={"dataset": "bench-bare"})
            bare, _created = ensure_dataset(client, bare_config, "bench-bare", SPEC)
            records = to_records(frame, SPEC)
            bare_push_s, _ = timed(lambda: bare.records.log(records, batch_size=config.batch_size))
            dataset = client.datasets(name="bench", workspace=config.workspace)
            respond_to_all(client, dataset)
            pull_s, result = timed(lambda: pull_reviews(config, SPEC, run_dir, "bench"))
            fetch_s, fetched = timed(lambda: fetch_all(client, dataset))
        assert result.report["reviewed"] == fetched == frame.height, (result.report, fetched)
    rows += [
        (f"push {frame.height} (alttrain review push)", push_s),
        (f"push {frame.height} (bare SDK log, baseline)", bare_push_s),
        (f"re-push {frame.height} (updates, no duplicates)", repush_s),
        (f"pull {frame.height} reviewed (alttrain review pull)", pull_s),
        (f"fetch {frame.height} with responses (bare SDK, baseline)", fetch_s),
    ]
    width = max(len(label) for label, _ in rows)
    print(f"{'what':<{width}}  seconds")
    for label, seconds in rows:
        print(f"{label:<{width}}  {seconds:7.2f}")
    print(f"push / bare SDK log: {push_s / bare_push_s:.2f}x")
    print(f"pull / bare SDK fetch: {pull_s / fetch_s:.2f}x")
    print(f"per record: push {1000 * push_s / frame.height:.1f} ms, pull {1000 * pull_s / frame.height:.1f} ms")


if __name__ == "__main__":
    main()
