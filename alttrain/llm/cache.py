"""The response cache: every teacher answer in SQLite, keyed by a versioned hash of what was asked.

A run's cache (default ``RUN/cache.sqlite``) makes a rerun free and lets ``--reparse`` rebuild every row
without sending anything. Each response is committed as soon as it arrives, in WAL mode with
``synchronous=NORMAL``: a process killed with SIGKILL loses at most the requests still in flight (WAL
with NORMAL only risks the last commits on power loss, never on a process crash). The key covers
everything that changes an answer: the teacher (``backend:model``), the backend settings that matter
(:meth:`~alttrain.llm.backends.base.TeacherBackend.key_options`: the endpoint, the model file, engine
options, template texts), the messages (which carry the prompt-template version), the sampling
parameters, the JSON schema, the choices (only when a request has them: a request without keys as
before), and the prompt-record fields a backend reads beyond the messages. The API key is never part of a
request, so it never reaches the cache. Entries written under an older key recipe never match:
:meth:`ResponseCache.stale_entries` counts them, so a re-parse can say why it misses.
A file SQLite cannot read (truncated, overwritten) is a :class:`~alttrain.errors.CacheDamagedError` naming
the file and the way on, wherever it is noticed: on open or on any later read or write.

Checkpoints (folding the WAL into the database, with an fsync) are off while a cache is open and run
once at :meth:`ResponseCache.close`: SQLite's automatic checkpoint every 1,000 pages costs an fsync
inside a write and stalls the event loop each time. The WAL grows meanwhile by about 8 KiB per
response; a killed run leaves it for the next open to recover and fold in.
"""

from __future__ import annotations

import functools
import hashlib
import json
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from alttrain.errors import CacheDamagedError
from alttrain.llm.types import TeacherRequest, TeacherResponse

#: bump when the key's recipe changes, so old entries stop matching instead of matching wrongly
#: (2: the endpoint, backend options and record fields joined the key)
CACHE_KEY_VERSION = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    teacher TEXT NOT NULL,
    request TEXT NOT NULL,
    response TEXT NOT NULL,
    created REAL NOT NULL
)
"""


def keyed_request(
    teacher: str,
    request: TeacherRequest,
    *,
    options: Mapping[str, Any] | None = None,
    record_fields: tuple[str, ...] = (),
) -> tuple[str, str]:
    """Return the cache key (``v<version>-<sha256>``) and the canonical JSON it hashes.

    The JSON holds everything that decides a teacher's answer: the teacher identity, the backend
    ``options`` that change answers, the messages, the sampling parameters, the schema, the choices (only
    when set, so a request without them keys as it always did), and the ``record_fields`` of the request's
    record that the backend reads beyond the messages.
    """
    payload: dict[str, Any] = {
        "teacher": teacher,
        "messages": request.messages,
        "sampling": vars(request.sampling),  # flat fields: the same JSON as asdict, without its deep copy
        "json_schema": request.json_schema,
    }
    if request.choices is not None:
        payload["choices"] = list(request.choices)
    if options:
        payload["options"] = dict(options)
    if record_fields:
        payload["record"] = {name: request.record.get(name) for name in record_fields}
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return f"v{CACHE_KEY_VERSION}-{hashlib.sha256(canonical.encode()).hexdigest()}", canonical


_PATIENCE_S = 10.0  # how long a connection waits for another one's lock
#: SQLite's names for a file that is not a (whole) database
_DAMAGE = frozenset({"SQLITE_CORRUPT", "SQLITE_NOTADB"})
_Args = ParamSpec("_Args")
_Result = TypeVar("_Result")


@contextmanager
def damage_named(path: Path) -> Iterator[None]:
    """Turn SQLite's report of a damaged ``path`` into a :class:`CacheDamagedError` that says what to do.

    Raises:
        CacheDamagedError: the file is truncated or is not a database (other SQLite errors pass unchanged).

    """
    try:
        yield
    except sqlite3.DatabaseError as error:
        if getattr(error, "sqlite_errorname", None) not in _DAMAGE:
            raise
        raise CacheDamagedError(
            f"{path}: the response cache is damaged ({error}). Move it aside (mv {path} {path}.damaged) and run "
            "again: a fresh cache is started, files the stages already wrote (such as synthesized.parquet) are "
            "kept, and answers not in them are asked for again. `sqlite3 FILE .recover` may save what is readable"
        ) from None


def _named_damage(
    method: Callable[Concatenate[ResponseCache, _Args], _Result],
) -> Callable[Concatenate[ResponseCache, _Args], _Result]:
    """A :class:`ResponseCache` method under :func:`damage_named` for its file."""

    @functools.wraps(method)
    def guarded(self: ResponseCache, *args: _Args.args, **kwargs: _Args.kwargs) -> _Result:
        with damage_named(self.path):
            return method(self, *args, **kwargs)

    return guarded


def _enter_wal(db: sqlite3.Connection) -> None:
    """Switch ``db`` to write-ahead logging, retrying while another connection holds the file.

    Processes that open one fresh file at the same moment (two Ray actors on a node) race to switch
    it; SQLite refuses the loser at once, without its busy handler (its deadlock rule), so retry.
    """
    deadline = time.monotonic() + _PATIENCE_S
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


class ResponseCache:
    """A SQLite file of teacher responses; one instance per process, used from one thread.

    Args:
        path: the database file (created with its parent directory when missing).

    """

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        try:
            with damage_named(path):
                self._db.execute(f"PRAGMA busy_timeout={int(_PATIENCE_S * 1000)}")
                _enter_wal(self._db)
                self._db.execute("PRAGMA synchronous=NORMAL")
                self._db.execute("PRAGMA wal_autocheckpoint=0")
                self._db.execute(_SCHEMA)
        except BaseException:
            self._db.close()
            raise

    @_named_damage
    def get(self, key: str) -> TeacherResponse | None:
        """Return the cached response under ``key``, or None."""
        row = self._db.execute("SELECT response FROM responses WHERE key = ?", (key,)).fetchone()
        return None if row is None else TeacherResponse(**json.loads(row[0]))

    @_named_damage
    def put(self, key: str, teacher: str, request_json: str, response: TeacherResponse) -> None:
        """Store one response with its request (from :func:`keyed_request`) and commit it at once."""
        self._db.execute(
            "INSERT OR REPLACE INTO responses (key, teacher, request, response, created) VALUES (?,?,?,?,?)",
            (key, teacher, request_json, json.dumps(vars(response), ensure_ascii=False), time.time()),
        )

    @_named_damage
    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    @_named_damage
    def stale_entries(self) -> int:
        """How many entries were written under an older key recipe (they can never match again)."""
        prefix = f"v{CACHE_KEY_VERSION}-"
        query = "SELECT COUNT(*) FROM responses WHERE substr(key, 1, ?) != ?"
        return int(self._db.execute(query, (len(prefix), prefix)).fetchone()[0])

    @_named_damage
    def close(self) -> None:
        """Fold the WAL into the database (without waiting on readers) and close."""
        try:
            self._db.execute("PRAGMA wal_checkpoint(PASSIVE)")
        finally:
            self._db.close()

    def __enter__(self) -> ResponseCache:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
