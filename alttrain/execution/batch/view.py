"""The batch executor's accounting as the stage's view shows it (``RUN/batches.json``)."""

from __future__ import annotations

from rich.console import Console

from alttrain.console import counts_table, say
from alttrain.execution.batch.state import BatchAccounting


def show_batch_accounting(console: Console, accounting: BatchAccounting) -> None:
    """The batch teacher's counts, tokens and discount (over every batch of the run)."""
    console.print(counts_table("batch teacher (RUN/batches.json)", {
        "rounds": accounting.rounds, "batches": accounting.batches, "requests": accounting.requests,
        "resubmitted": accounting.resubmitted, "answered": accounting.answered, "failed": accounting.failed,
        "unanswered": accounting.unanswered, "prompt tokens": accounting.prompt_tokens,
        "completion tokens": accounting.completion_tokens,
    }))  # fmt: skip
    if accounting.discount is not None:
        tokens = accounting.prompt_tokens + accounting.completion_tokens
        say(console, f"  batch discount {accounting.discount:.0%} ({accounting.discount_source}): {tokens} tokens "
                     f"billed like {round(tokens * (1 - accounting.discount))} at online prices")
