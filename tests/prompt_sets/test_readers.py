import gzip
import json
import tracemalloc
from pathlib import Path

import polars as pl
import pytest

from alttrain.errors import SourceError
from alttrain.prompt_sets.base import ReadBounds, read_bounded_table, read_jsonl, read_table
from alttrain.sources.files import FileSource
from alttrain.sources.pool import PromptsConfig, build_prompt_pool
from tests.sources.peer_fixtures import SAFECHAIN_JSONL, STAR1_JSON, write


def error_of(path: Path) -> str:
    with pytest.raises(SourceError) as caught:
        read_table(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    return message.removeprefix(f"{path}: ")


def test_json_array_reads_as_records(tmp_path: Path) -> None:
    frame = read_table(write(tmp_path / "STAR-1.json", STAR1_JSON))
    assert frame.columns == ["id", "question", "response", "category", "source", "score"]
    assert frame["id"].to_list() == ["68", "501"]
    assert frame.schema["category"] == pl.List(pl.String)


def test_gzip_forms(tmp_path: Path) -> None:
    array = write(tmp_path / "STAR-1.json.gz", gzip.compress(STAR1_JSON.encode()))
    lines = write(tmp_path / "safechain.jsonl.gz", gzip.compress(SAFECHAIN_JSONL.encode()))
    assert read_table(array).height == 2
    assert read_table(lines)["label"].to_list() == ["vanilla_benign", "adversarial_harmful", "adversarial_benign"]
    assert FileSource(path=array, preset="star1").load().height == 2


def test_json_lines_in_a_json_file_still_read(tmp_path: Path) -> None:
    path = write(tmp_path / "legacy.json", '{"prompt": "a", "label": "benign"}\n{"prompt": "b", "label": "benign"}\n')
    assert read_table(path)["prompt"].to_list() == ["a", "b"]


def test_byte_order_mark_is_skipped(tmp_path: Path) -> None:
    assert read_table(write(tmp_path / "a.json", b'\xef\xbb\xbf[{"prompt": "a"}]')).height == 1
    assert read_table(write(tmp_path / "b.jsonl", b'\xef\xbb\xbf{"prompt": "a"}\n')).height == 1
    assert read_table(write(tmp_path / "c.csv", b"\xef\xbb\xbfprompt\na\n")).columns == ["prompt"]


def test_jsonl_latin1_line(tmp_path: Path) -> None:
    path = write(tmp_path / "x.jsonl", b'{"prompt": "ok"}\n{"prompt": "caf\xe9"}\n')
    assert error_of(path) == "line 2 is not UTF-8 at byte 16 of the line (0xe9); re-encode the file as UTF-8"
    with pytest.raises(SourceError, match="line 2 is not UTF-8"):
        FileSource(path=path, label="benign").load()


def test_jsonl_unterminated_line_then_latin1_line(tmp_path: Path) -> None:
    # a record cut short, then a latin-1 line: the first problem is named
    cut = write(tmp_path / "cut.jsonl", b'{"prompt": "fine\n{"prompt": "caf\xe9"}\n')
    assert error_of(cut).startswith("malformed JSON on line 1, column 17: ")
    # the latin-1 line first, then a last line without a newline
    first = write(tmp_path / "first.jsonl", b'{"prompt": "caf\xe9"}\n{"prompt": "ok"')
    assert error_of(first).startswith("line 1 is not UTF-8 at byte 16 of the line")
    # a last line without its newline is read when it is whole
    whole = write(tmp_path / "whole.jsonl", b'{"prompt": "a"}\n{"prompt": "b"}')
    assert read_table(whole)["prompt"].to_list() == ["a", "b"]


def test_jsonl_that_is_not_objects(tmp_path: Path) -> None:
    assert error_of(write(tmp_path / "x.jsonl", '{"prompt": "a"}\n[1, 2]\n')) == "line 2 is not a JSON object"


def test_json_array_bad_bytes_and_bad_json(tmp_path: Path) -> None:
    bad_bytes = write(tmp_path / "a.json", b'[\n  {"prompt": "caf\xe9"}\n]\n')
    assert error_of(bad_bytes) == (
        "not UTF-8 at line 2, column 18 (byte 0xe9 at offset 19); re-encode the file as UTF-8"
    )
    bad_json = write(tmp_path / "b.json", '[\n  {"prompt": "a"},\n  {"prompt": }\n]\n')
    assert error_of(bad_json) == "malformed JSON at line 3, column 14: Expecting value"
    assert error_of(write(tmp_path / "c.json", "[1, 2]")) == "element 1 of the JSON array is not an object"
    wrapped = write(tmp_path / "d.json", '{"data": [{"prompt": "a"}, {"prompt": "b"}]}')
    assert error_of(wrapped).startswith("one JSON object with the records under 'data'; alttrain reads a plain")


def test_truncated_gzip(tmp_path: Path) -> None:
    data = gzip.compress((SAFECHAIN_JSONL * 50).encode())
    lines = write(tmp_path / "cut.jsonl.gz", data[: len(data) // 2])
    assert error_of(lines).startswith("truncated or corrupt gzip after line ")
    array = write(tmp_path / "cut.json.gz", gzip.compress(STAR1_JSON.encode())[:40])
    assert error_of(array).startswith("truncated or corrupt gzip (")
    not_gzip = write(tmp_path / "plain.jsonl.gz", SAFECHAIN_JSONL)
    assert error_of(not_gzip).startswith("truncated or corrupt gzip after line 0 (Not a gzipped file")


def test_csv_bad_bytes_and_corrupt_parquet(tmp_path: Path) -> None:
    csv = write(tmp_path / "x.csv", b"prompt,label\nok,benign\ncaf\xe9,benign\n")
    assert error_of(csv) == "not UTF-8 at line 3, column 4 (byte 0xe9 at offset 26); re-encode the file as UTF-8"
    parquet = write(tmp_path / "x.parquet", b"PAR1 not really parquet PAR1")
    assert error_of(parquet).startswith("not a readable parquet file (")
    good = tmp_path / "good.parquet"
    pl.DataFrame({"prompt": ["a"] * 100}).write_parquet(good)
    cut = write(tmp_path / "cut.parquet", good.read_bytes()[:-10])
    assert error_of(cut).startswith("not a readable parquet file (")


def test_read_jsonl_keeps_its_contract(tmp_path: Path) -> None:
    path = write(tmp_path / "x.jsonl", '{"a": 1}\n\n{"a": 2}\n')
    assert read_jsonl(path) == [{"a": 1}, {"a": 2}]


def test_unsupported_suffix_lists_the_forms(tmp_path: Path) -> None:
    assert "use .jsonl, .json, their .gz forms" in error_of(write(tmp_path / "x.txt", "hello"))


def big_array(path: Path, records: int, prompt_chars: int) -> Path:
    """A gzip JSON array of ``records`` records, each with a prompt of ``prompt_chars`` characters."""
    line = json.dumps({"prompt": "x" * prompt_chars, "label": "benign"})
    path.write_bytes(gzip.compress(("[" + ",\n".join(line.replace('"x', f'"{i} x', 1) for i in range(records))
                                    + "]").encode(), compresslevel=1))  # fmt: skip
    return path


def test_n_is_sampled_while_a_gzip_array_streams_so_memory_stays_at_one_piece(tmp_path: Path) -> None:
    path = big_array(tmp_path / "big.json.gz", records=4_000, prompt_chars=10_000)  # ~40 MB decompressed
    tracemalloc.start()
    try:
        frame, read = read_bounded_table(path, ReadBounds(keep=1, seed=3))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert read == 4_000 and frame.height == 1
    assert peak < 12 * 2**20, peak  # a piece or two of 1 MiB and one record, never the 40 MB file
    again = read_bounded_table(path, ReadBounds(keep=1, seed=3))[0]
    assert again.equals(frame)  # the sample is the seed's


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz", ".json.gz", ".csv", ".parquet"])
def test_max_rows_and_n_and_max_bytes_bound_every_form(tmp_path: Path, suffix: str) -> None:
    rows = [{"prompt": f"question {i}", "label": "benign"} for i in range(50)]
    path = tmp_path / f"t{suffix}"
    frame = pl.DataFrame(rows)
    if suffix == ".parquet":
        frame.write_parquet(path, row_group_size=10)
    elif suffix == ".csv":
        frame.write_csv(path)
    else:
        text = json.dumps(rows) if suffix == ".json.gz" else "".join(json.dumps(row) + "\n" for row in rows)
        path.write_bytes(gzip.compress(text.encode()) if suffix.endswith(".gz") else text.encode())
    first, read = read_bounded_table(path, ReadBounds(max_rows=7))
    assert first["prompt"].to_list() == [f"question {i}" for i in range(7)] and read == 7
    if suffix != ".csv":  # CSV is read whole (within max_bytes); the pool samples it
        sampled, read = read_bounded_table(path, ReadBounds(keep=5, seed=1))
        assert sampled.height == 5 and read == 50 and set(sampled["prompt"]) <= set(frame["prompt"])
        assert sampled["prompt"].to_list() == sorted(sampled["prompt"], key=lambda p: int(p.split()[1]))  # file order
    with pytest.raises(SourceError, match=r"more than max_bytes \(200\) bytes.*raise the source's max_bytes"):
        read_bounded_table(path, ReadBounds(max_bytes=200))


def test_a_file_source_samples_its_n_as_it_reads_and_counts_the_rows_read(tmp_path: Path) -> None:
    path = big_array(tmp_path / "p.json.gz", records=300, prompt_chars=10)
    config = PromptsConfig.model_validate({"seed": 4, "sources": [{"kind": "file", "path": str(path), "n": 2}]})
    pool, (count,) = build_prompt_pool(config)
    assert pool.height == count.sampled == 2 and count.loaded == 300
    capped = FileSource(path=path, max_bytes=1_000)
    with pytest.raises(SourceError, match="once decompressed"):
        capped.load()
