"""The ``review`` stage (optional: ``alttrain run --review``): push to Argilla, wait for the reviewer, pull back.

Without a configured Argilla (``review.api_url`` or ``$ARGILLA_API_URL``), a local one is started for the
round and stopped after it. ``alttrain review push|pull|serve`` run the parts alone.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from alttrain.console import counts_table, say
from alttrain.curation.review.config import API_URL_ENV
from alttrain.curation.review.view import ReviewView
from alttrain.layout import CURATED_FILE, REVIEW_REPORT_FILE, REVIEWED_FILE
from alttrain.stage import Stage, StageContext

if TYPE_CHECKING:
    from alttrain.curation.review.pull import PullResult
    from alttrain.curation.review.push import PushResult
    from alttrain.services.argilla.local import LocalArgilla


def run_review_push(config: ReviewView, run_dir: Path) -> PushResult:
    """Send ``RUN/curated.parquet`` to Argilla for human review (upserts by id: re-running never duplicates)."""
    from alttrain.curation.review.push import push_for_review

    return push_for_review(config.review, config.structure, run_dir, config.name)


def run_review_pull(config: ReviewView, run_dir: Path) -> PullResult:
    """Bring reviews back: ``RUN/reviewed.parquet``, review rejections, ``RUN/review_report.json``."""
    from alttrain.curation.review.pull import pull_reviews

    return pull_reviews(config.review, config.structure, run_dir, config.name)


def show_review_push(console: Console, result: PushResult, config: ReviewView) -> None:
    """Where the records went in Argilla."""
    action = "created" if result.created else "updated"
    say(console, f"pushed {result.pushed} records to {result.api_url} workspace {result.workspace!r}, dataset "
                 f"{result.dataset!r} ({action}; it holds {result.records_in_dataset} records)")


def show_review_pull(console: Console, result: PullResult, config: ReviewView) -> None:
    """Review counts, rejections, edits and agreement."""
    report = result.report
    console.print(counts_table(f"review of {report['dataset']!r}", {
        "records": report["records"], "reviewed": report["reviewed"], "unreviewed": report["unreviewed"],
        "kept": report["output"]["reviewed_rows"], "rejected": report["output"]["rejected_rows_added"],
    }))  # fmt: skip
    for reason, rows in sorted(report["reasons"].items()):
        say(console, f"  rejected {rows} x {reason}")
    edits = report["edits"]
    say(console, f"  edits: {edits['applied']} applied, {edits['invalid']} invalid (original kept); "
                 f"{report['relabelled']} relabelled")
    agreement = report["agreement"]
    if agreement["multi_reviewed_records"]:
        say(console, f"  agreement on {agreement['multi_reviewed_records']} multi-reviewed records: "
                     f"{agreement['unanimous']} unanimous, mean pairwise {agreement['mean_pairwise']}")
    say(console, f"wrote {result.reviewed_path}, {result.rejected_path}, {result.report_path}")


def start_argilla(config: ReviewView, console: Console | None) -> LocalArgilla:
    """Start the local Argilla of ``review.server`` and say how to reach it, without printing a secret.

    The owner's password and API key stay in ``<home>/credentials.json`` (0600); the URL and key for
    push/pull go into ``<home>/push-pull.env`` (0600), which the console names for ``source``.
    """
    import shlex

    from alttrain.services.argilla.local import check_env_name, start_local_argilla, write_env_file

    def on_step(step: str) -> None:
        if console is not None:
            say(console, step)

    check_env_name(config.review.api_key_env)  # before the slow start: the env file needs a valid name
    server = start_local_argilla(config.review.server, on_step=on_step)
    try:
        env_file = write_env_file(server, config.review.api_key_env)
    except BaseException:
        server.stop()
        raise
    if console is not None:
        console.print(f"[bold green]Argilla is up[/bold green] at {server.url} ({server.started_s:.0f} s)",
                      soft_wrap=True)
        say(console, f"  log in as {server.credentials.username}; the password is in {server.credentials_path} "
                     "(mode 0600)")
        say(console, f"  for push/pull, load ARGILLA_API_URL and {config.review.api_key_env} from {env_file} with:")
        say(console, f"  source {shlex.quote(str(env_file))}")
        say(console, f"  state (database, logs): {server.home}")
    return server


@dataclass(frozen=True)
class ReviewRound:
    """What one review round pushed and pulled."""

    push: PushResult
    pull: PullResult


def run_review_round(context: StageContext[ReviewView]) -> ReviewRound:
    """Push to Argilla (a local one unless an API URL is configured), wait for the reviewer, pull back."""
    config, run_dir = context.config, context.run_dir
    server = None
    if not (config.review.api_url or os.environ.get(API_URL_ENV)):
        server = start_argilla(config, context.console)
        os.environ[API_URL_ENV] = server.url  # this process only: never written anywhere
        os.environ[config.review.api_key_env] = server.credentials.api_key
    try:
        push = run_review_push(config, run_dir)
        if context.console is not None:
            show_review_push(context.console, push, config)
        context.pause("Review in Argilla, then press Enter to pull the reviews back")
        return ReviewRound(push, run_review_pull(config, run_dir))
    finally:
        if server is not None:
            server.stop()


def show_review_round(console: Console, result: ReviewRound, config: ReviewView) -> None:
    """The pull's counts (the push was shown before the wait)."""
    show_review_pull(console, result.pull, config)


REVIEW_STAGE = Stage(
    name="review",
    summary="Human review in Argilla: push candidates, pull verdicts and edits back.",
    view=ReviewView,
    inputs=(CURATED_FILE,),
    outputs=(REVIEWED_FILE, REVIEW_REPORT_FILE),
    run=run_review_round,
    show=show_review_round,
    optional=True,
    command=False,
)
