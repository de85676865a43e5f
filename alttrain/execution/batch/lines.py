"""Batch files, line by line: the requests that go in and the answers that come back.

One format serves the OpenAI Batch API and ``vllm run-batch``. An input line is one request,
``{"custom_id": <cache key>, "method": "POST", "url": "/v1/chat/completions", "body": <chat body>}``,
where the body is exactly what the ``openai`` backend posts online. An output or error line is
``{"id", "custom_id", "response": {"status_code", "request_id", "body"} | null, "error": {"code", "message"} | null}``.

:func:`read_result` turns a returned line into a :class:`LineResult`: the teacher's response (status 200
with a chat completion, read as the online backend reads it) or a failure with its reason, marked
transient when resubmitting may help (429, 5xx, timeouts) as the online client would retry it. A line
that parses but cannot be taken is refused with its reason and its request sent again: a body that is
not a chat completion or a field of the wrong type (``unusable``), or an answer from another model than
the one asked (``foreign``). Reading a line never raises. Reasons are redacted: a service may echo the
key it was sent. Files are split into lines at line feeds only (:mod:`alttrain.llm.jsonl`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from alttrain.llm.backends.openai_backend import TRANSIENT_STATUSES, redact, to_response
from alttrain.llm.jsonl import lines_of
from alttrain.llm.types import TeacherResponse, TransientTeacherError

CHAT_URL = "/v1/chat/completions"
#: ``error.code`` values of a failed line that a resubmission may fix
TRANSIENT_CODES = frozenset(
    {"timeout", "rate_limit_exceeded", "server_error", "internal_error", "batch_expired", "batch_cancelled"}
)
#: characters of a provider's error text kept in a reason
REASON_CHARS = 300
#: what a service may append to the model asked for when it names the snapshot that answered (``-2024-08-06``)
SNAPSHOT_SUFFIX = re.compile(r"-\d{4}(?:-\d{2}-\d{2})?")
Flaw = Literal["unusable", "foreign"]  # a line that parses but is refused: wrong types, or another model


def input_line(key: str, body: dict[str, Any]) -> str:
    """One request of a batch input file (no newline)."""
    line = {"custom_id": key, "method": "POST", "url": CHAT_URL, "body": body}
    return json.dumps(line, ensure_ascii=False, separators=(",", ":"))


def input_parts(
    bodies: dict[str, dict[str, Any]], max_requests: int, max_bytes: int
) -> list[tuple[list[str], str]]:
    """Input files for ``bodies`` (sorted by key) as (keys, text), cut where one would pass a batch's limits."""
    parts: list[tuple[list[str], str]] = []
    keys: list[str] = []
    lines: list[str] = []
    size = 0
    for key in sorted(bodies):
        line = input_line(key, bodies[key]) + "\n"
        length = len(line.encode())
        if lines and (len(lines) >= max_requests or size + length > max_bytes):
            parts.append((keys, "".join(lines)))
            keys, lines, size = [], [], 0
        keys.append(key)
        lines.append(line)
        size += length
    return [*parts, (keys, "".join(lines))] if lines else parts


def input_keys(path: Path) -> list[str]:
    """The custom ids of an input file, in order."""
    return [json.loads(line)["custom_id"] for line in lines_of(path.read_text(encoding="utf-8"))]


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class LineResult:
    """What a batch returned for one request: a response, or why there is none."""

    key: str
    response: TeacherResponse | None = None
    failure: str | None = None  # the reason, redacted; None when answered
    transient: bool = False  # a resubmission may get an answer
    flaw: Flaw | None = None  # the line parsed but was refused (its failure says why)


def answered_by(models: Collection[str], model: object) -> bool:
    """Whether a body's ``model`` is one of ``models`` (or a dated snapshot of one, as OpenAI names them)."""
    if not isinstance(model, str):
        return False
    return any(model == name or (model.startswith(name) and SNAPSHOT_SUFFIX.fullmatch(model[len(name) :]))
               for name in models)


def read_result(text: str, secrets: tuple[str, ...] = (), models: Collection[str] = ()) -> LineResult | None:
    """Read one output or error line; None when it is not a line at all (cut off, no custom_id).

    ``models``: the models an answer may come from (empty: any); a body naming another is refused as foreign.
    """
    try:
        line = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return None
    if not isinstance(line, dict) or not isinstance(line.get("custom_id"), str):
        return None
    key = line["custom_id"]
    error, response = line.get("error"), line.get("response")
    if isinstance(error, dict):
        code = str(error.get("code") or "error")
        return LineResult(key, failure=_reason(f"{code}: {error.get('message') or ''}", secrets),
                          transient=code in TRANSIENT_CODES)
    if not isinstance(response, dict):
        return LineResult(key, failure="the line has neither a response nor an error", transient=True)
    status, body = response.get("status_code"), response.get("body")
    if isinstance(status, bool) or not isinstance(status, int):
        return _refused(key, "unusable", f"response.status_code is {status!r}, not an HTTP status", secrets)
    if status != 200:
        transient = status == 429 or status >= 500 or status in TRANSIENT_STATUSES
        return LineResult(key, failure=_reason(f"HTTP {status}: {_message(body)}", secrets), transient=transient)
    model = body.get("model") if isinstance(body, dict) else None
    if models and model is not None and not answered_by(models, model):
        wanted = " or ".join(repr(name) for name in models)
        return _refused(key, "foreign", f"answered by model {model!r}, not {wanted}", secrets)
    try:
        return LineResult(key, response=to_response(body))
    except TransientTeacherError as problem:  # not a chat completion, or a field of the wrong type
        return _refused(key, "unusable", str(problem), secrets)


def read_results(
    lines: Iterable[str], secrets: tuple[str, ...] = (), models: Collection[str] = ()
) -> Iterator[LineResult | None]:
    """Read every non-blank line of an output or error file (None for a line that cannot be read)."""
    for text in lines:
        if text.strip():
            yield read_result(text, secrets, models)


def redact_line(text: str, secrets: tuple[str, ...] = ()) -> str:
    """A JSON line with every string in it redacted (a line that is not JSON is redacted as text)."""
    try:
        return json.dumps(_redacted(json.loads(text), secrets), ensure_ascii=False)
    except json.JSONDecodeError:
        return redact(text, secrets)


def _redacted(value: Any, secrets: tuple[str, ...]) -> Any:
    """``value`` with :func:`redact` applied to every string (keys included) at any depth."""
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {_redacted(key, secrets): _redacted(item, secrets) for key, item in value.items()}
    if isinstance(value, list):
        return [_redacted(item, secrets) for item in value]
    return value


def _message(body: object) -> str:
    """The error message in a response body (``{"error": {"message": ...}}``), or the body itself."""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return str(body["error"].get("message") or body["error"])
    return str(body)


def _refused(key: str, flaw: Flaw, why: str, secrets: tuple[str, ...]) -> LineResult:
    """A line that parsed but is not taken: a transient failure (the request is sent again) with its flaw."""
    return LineResult(key, failure=_reason(why, secrets), transient=True, flaw=flaw)


def _reason(text: str, secrets: tuple[str, ...]) -> str:
    """A failure reason: redacted, on one line, at most :data:`REASON_CHARS` characters."""
    return " ".join(redact(text, secrets).split())[:REASON_CHARS]
