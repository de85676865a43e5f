"""Terminal output shared by every command: one console, tables of counts, and errors that never wrap.

Rich wraps long lines at the terminal width, which breaks a path or an ``export`` line a user means to
copy, and makes tests depend on the width. Messages and errors are printed with ``soft_wrap``: the
terminal wraps them, if at all, and the text stays one line.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.table import Table


def counts_table(title: str, counts: Mapping[str, Any]) -> Table:
    """A one-row table of named counts."""
    table = Table(title=title)
    for column in counts:
        table.add_column(column, justify="right")
    table.add_row(*map(str, counts.values()))
    return table


def say(console: Console, message: str) -> None:
    """Print one message line as it is (no markup, no highlighting, no wrapping)."""
    console.print(message, markup=False, highlight=False, soft_wrap=True)
