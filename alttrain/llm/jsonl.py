"""JSON Lines split where JSON Lines ends a line: at a line feed (U+000A) and nowhere else.

A JSON text may hold U+2028, U+2029 and U+0085 raw (``json.dumps(..., ensure_ascii=False)`` keeps them),
and a line may end in a carriage return and a line feed. ``str.splitlines``, a file opened in
universal-newline mode and httpx's line iterator cut lines at all of these, which breaks one JSON line in
two. ``json.dumps`` always escapes a line feed inside a string, so a line feed is the one safe place to
cut; a carriage return left before it is whitespace to the JSON reader.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterator
from pathlib import Path

LINE_FEED = "\n"


def lines_of(text: str) -> list[str]:
    """The non-blank lines of a JSON Lines text."""
    return [line for line in text.split(LINE_FEED) if line.strip()]


def read_lines(path: Path) -> Iterator[str]:
    """The non-blank lines of a JSON Lines file, read one at a time (without their line feed)."""
    with path.open(encoding="utf-8", newline=LINE_FEED) as handle:
        for line in handle:
            if line.strip():
                yield line.removesuffix(LINE_FEED)


async def stream_lines(chunks: AsyncIterable[bytes]) -> AsyncIterator[str]:
    """The lines of a byte stream (without their line feed), as UTF-8 (bad bytes replaced, as httpx does)."""
    pending = bytearray()
    async for chunk in chunks:
        end = chunk.rfind(b"\n")
        if end < 0:
            pending += chunk
            continue
        pending += chunk[:end]
        for line in bytes(pending).split(b"\n"):
            yield line.decode("utf-8", errors="replace")
        pending = bytearray(chunk[end + 1 :])
    if pending:
        yield bytes(pending).decode("utf-8", errors="replace")
