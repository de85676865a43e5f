"""JSON Lines split at line feeds only: texts, files and byte streams cut anywhere."""

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from alttrain.llm.jsonl import lines_of, read_lines, stream_lines

# what str.splitlines, universal-newline files and httpx's line iterator also take for line ends
OTHER_BREAKS = "\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
records = st.lists(st.dictionaries(st.text(max_size=3), st.text(alphabet=OTHER_BREAKS + "a\n中", max_size=8),
                                   max_size=3), max_size=6)


def jsonl(items: list[dict[str, str]]) -> str:
    return "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items)


def split_stream(data: bytes, cuts: list[int]) -> list[str]:
    """``stream_lines`` over ``data`` cut into chunks at ``cuts`` (inside characters too)."""

    async def chunks() -> AsyncIterator[bytes]:
        start = 0
        for cut in [*sorted(cuts), len(data)]:
            yield data[start:cut]
            start = cut

    async def collect() -> list[str]:
        return [line async for line in stream_lines(chunks())]

    return asyncio.run(collect())


@given(records)
def test_a_text_splits_into_its_records(items: list[dict[str, str]]) -> None:
    assert [json.loads(line) for line in lines_of(jsonl(items))] == items


def test_a_file_splits_into_its_records_and_crlf_lines_still_read(tmp_path: Path) -> None:
    items = [{"text": f"one{c}two"} for c in OTHER_BREAKS]
    path = tmp_path / "records.jsonl"
    path.write_bytes((jsonl(items).replace("\n", "\r\n") + "\n\n").encode())
    assert [json.loads(line) for line in read_lines(path)] == items


@given(records, st.data())
def test_a_stream_cut_anywhere_splits_into_its_records(items: list[dict[str, str]], data: st.DataObject) -> None:
    encoded = jsonl(items).encode()
    cuts = data.draw(st.lists(st.integers(0, len(encoded)), max_size=8))
    assert [json.loads(line) for line in split_stream(encoded, cuts) if line] == items


def test_a_last_line_without_a_line_feed_is_kept() -> None:
    assert split_stream(b'{"a": 1}\n{"b": "\xe2\x80\xa8"}', [3, 12]) == ['{"a": 1}', '{"b": "\u2028"}']
