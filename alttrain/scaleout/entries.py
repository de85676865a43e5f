"""Cache entries on the move: what actors read and write, shipped to the driver and merged into the run's cache.

An entry is a response cache row without its timestamp: the key, the teacher, the canonical request JSON
the key hashes, and the response as JSON, exactly as :meth:`~alttrain.llm.cache.ResponseCache.put` stores
it: an entry merged into ``RUN/cache.sqlite`` answers the same request there as on the actor that asked it.
What a node cache left behind (:func:`entry_problem`) is merged only when its key is the hash of its stored
request under this alttrain's key version, for this run's teacher, with a response alttrain can read.
Merges go in one transaction per batch of entries on a connection of their own (beside the cache's, as
WAL allows): a killed merge loses only its batch, which the node caches still hold.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from alttrain.llm.cache import CACHE_KEY_VERSION, ResponseCache, damage_named
from alttrain.llm.types import TeacherResponse

#: keys per ``IN (...)`` query (SQLite's default limit on host parameters is 32,766)
QUERY_CHUNK = 900


class Entry(NamedTuple):
    """One cached answer: key, teacher identity, the request JSON the key hashes, the response JSON."""

    key: str
    teacher: str
    request: str
    response: str

    @classmethod
    def of(cls, key: str, teacher: str, request_json: str, response: TeacherResponse) -> Entry:
        """The entry :meth:`ResponseCache.put` would store for this answer."""
        return cls(key, teacher, request_json, json.dumps(vars(response), ensure_ascii=False))


def entry_problem(entry: Entry, teacher: str) -> str | None:
    """Why ``entry`` must not be merged into a cache of ``teacher``'s answers, or None when it may.

    The key must be the current key version's hash of the stored request (what :func:`keyed_request`
    returns), the request and the entry must name ``teacher``, and the response must be a teacher response.
    """
    prefix = f"v{CACHE_KEY_VERSION}-"
    if not entry.key.startswith(prefix):
        return f"a key of another key version (not {prefix})"
    if entry.key != prefix + hashlib.sha256(entry.request.encode()).hexdigest():
        return "a key that is not the hash of its stored request"
    try:
        written_for = json.loads(entry.request).get("teacher")
        TeacherResponse(**json.loads(entry.response))
    except (ValueError, TypeError, AttributeError):
        return "a request or response alttrain cannot read"
    if entry.teacher != teacher or written_for != teacher:
        return f"written for teacher {entry.teacher!r}, not {teacher!r}"
    return None


def entry_chunks(path: Path, keys: Iterable[str] | None = None, size: int = QUERY_CHUNK) -> Iterator[list[Entry]]:
    """The entries under ``keys`` (all when None) of a cache file, ``size`` at a time (another process may write it)."""
    if not path.exists():
        return
    db = sqlite3.connect(path, timeout=10)
    select = "SELECT key, teacher, request, response FROM responses"
    try:
        if keys is None:
            cursor = db.execute(select)
            while rows := cursor.fetchmany(size):
                yield [Entry(*row) for row in rows]
            return
        wanted = list(keys)
        for start in range(0, len(wanted), size):
            chunk = wanted[start : start + size]
            yield [Entry(*row) for row in db.execute(f"{select} WHERE key IN ({','.join('?' * len(chunk))})", chunk)]
    except sqlite3.OperationalError as error:
        if "no such table" not in str(error):  # a lock held past the timeout is an error, never an empty cache
            raise
        return  # no table yet: a cache created but never written
    finally:
        db.close()


def read_entries(path: Path, keys: Iterable[str] | None = None) -> list[Entry]:
    """The entries under ``keys`` (all when None) of a cache file, in one list."""
    return [entry for chunk in entry_chunks(path, keys) for entry in chunk]


def merge_entries(cache: ResponseCache, entries: Iterable[Entry]) -> int:
    """Add the entries ``cache`` does not hold yet, in one transaction; return how many were new."""
    rows = [(*entry, time.time()) for entry in entries]
    if not rows:
        return 0
    db = sqlite3.connect(cache.path, timeout=30, isolation_level=None)
    try:
        with damage_named(cache.path):
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA wal_autocheckpoint=0")  # the cache folds the WAL in when it closes
            db.execute("BEGIN IMMEDIATE")
            before = db.total_changes
            db.executemany("INSERT OR IGNORE INTO responses (key, teacher, request, response, created) "
                           "VALUES (?,?,?,?,?)", rows)  # fmt: skip
            db.execute("COMMIT")
            return db.total_changes - before
    finally:
        db.close()


@dataclass
class BatchLedger:
    """What one batch did with a node cache: the keys it read or wrote (with the entries it wrote), its new answers."""

    touched: dict[str, Entry | None] = field(default_factory=dict)  # key -> the entry when it was stored here
    answers: int = 0  # new answers committed
    crash_at: int | None = None  # the fault drill: exit at this many new answers


_LEDGER: ContextVar[BatchLedger | None] = ContextVar("alttrain_batch_ledger", default=None)


class RecordingCache(ResponseCache):
    """A response cache that records, per batch, every key it answered or stored (batches may run at once).

    An actor's node-local cache: what a batch read (answers of an earlier actor on this node, recovered
    after a crash) or wrote (new answers) goes back to the driver with the batch's rows. The batch is the
    one whose :meth:`batch` context the reading or writing task runs in (asyncio tasks inherit it).

    Args:
        path: the node-local database file.
        on_put: called with the batch's ledger after each new answer is committed (the fault drill).

    """

    def __init__(self, path: Path, on_put: Callable[[BatchLedger], None] | None = None) -> None:
        super().__init__(path)
        self._on_put = on_put

    @contextmanager
    def batch(self, crash_at: int | None = None) -> Iterator[BatchLedger]:
        """Record what the code inside (and every task it starts) reads and writes, in a new ledger."""
        ledger = BatchLedger(crash_at=crash_at)
        token = _LEDGER.set(ledger)
        try:
            yield ledger
        finally:
            _LEDGER.reset(token)

    def get(self, key: str) -> TeacherResponse | None:
        """Return the cached response under ``key`` (recording the key), or None."""
        response = super().get(key)
        ledger = _LEDGER.get()
        if response is not None and ledger is not None:
            ledger.touched.setdefault(key, None)
        return response

    def put(self, key: str, teacher: str, request_json: str, response: TeacherResponse) -> None:
        """Store and commit one response, recording it."""
        super().put(key, teacher, request_json, response)
        ledger = _LEDGER.get()
        if ledger is None:
            return
        ledger.touched[key] = Entry.of(key, teacher, request_json, response)
        ledger.answers += 1
        if self._on_put is not None:
            self._on_put(ledger)

    def seed(self, entries: list[Entry]) -> set[str]:
        """Store answers the driver already holds (not recorded: they need not go back); return their keys."""
        merge_entries(self, entries)
        return {entry.key for entry in entries}

    def entries(self, ledger: BatchLedger, known: set[str]) -> list[Entry]:
        """The entries a batch touched, less the ``known`` keys (read back from the file where only read)."""
        stored = [entry for key, entry in ledger.touched.items() if entry is not None and key not in known]
        read = [key for key, entry in ledger.touched.items() if entry is None and key not in known]
        return stored + read_entries(self.path, read)
