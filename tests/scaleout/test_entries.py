import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from alttrain.scaleout.entries import read_entries


def test_a_cache_created_but_never_written_has_no_entries(tmp_path: Path) -> None:
    path = tmp_path / "node.sqlite"
    sqlite3.connect(path).close()  # the file exists, its table does not
    assert read_entries(path) == []
    assert read_entries(tmp_path / "absent.sqlite") == []


def test_a_cache_locked_past_the_timeout_is_an_error_not_an_empty_cache(tmp_path: Path) -> None:
    path = tmp_path / "node.sqlite"
    with closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute("CREATE TABLE responses (key TEXT PRIMARY KEY, teacher TEXT, request TEXT, response TEXT)")
        db.execute("INSERT INTO responses VALUES ('k', 't', '{}', '{}')")
        db.execute("BEGIN EXCLUSIVE")  # rollback-journal mode: no reader gets in until it ends
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            read_entries(path)
        db.execute("COMMIT")
    assert [entry.key for entry in read_entries(path)] == ["k"]
