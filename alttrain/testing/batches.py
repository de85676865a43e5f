"""The fault server's Batch API: files and batches, answered line by line with the chat endpoint's logic.

Routes: ``POST /v1/files`` (multipart, as the openai SDK uploads), ``GET /v1/files``, ``GET /v1/files/{id}``,
``GET /v1/files/{id}/content``, ``POST /v1/batches``, ``GET /v1/batches``, ``GET /v1/batches/{id}`` and
``POST /v1/batches/{id}/cancel``. A batch goes validating -> in_progress -> finalizing -> completed, spending
``FaultPlan.batch_polls`` retrieves in each phase, and answers its lines when it ends: each line gets its
fault from the same :class:`~alttrain.testing.answers.FaultScript` as a chat request (so ``[[fault:...]]``
markers work per line). Content faults are answered in the output file; ``rate_limit``, ``server_error``
and ``bad_request`` become error-file lines with status 429, 500 and 400, ``hang`` an error line with code
``timeout``; ``truncated`` writes a broken output line, ``malformed_json`` and ``no_choices`` a 200 line
whose body is not a chat completion. Batch-level faults (:class:`~alttrain.testing.answers.BatchFault`)
fail validation, expire half answered, answer every second line with an error, or answer out of order.

As the real service, it splits an uploaded file into lines at line feeds only, writes answers as raw UTF-8
(a U+2028 in an answer stays one character, not an escape), lists files and batches newest first in pages
of at most ``FaultPlan.page_limit`` (``limit`` and ``after`` as the API takes them), and percent-decodes
ids in paths. ``FaultPlan.output_file_id`` plays a hostile endpoint that names an output file like a path.
"""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from alttrain.testing.answers import BatchFault, Fault, FaultPlan, FaultScript, completion_body

#: an HTTP answer: status, body, content type
Answer = tuple[int, bytes, str]
Recorder = Callable[[str, dict[str, Any]], None]
JSON = "application/json"
TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})
#: HTTP faults that become error-file lines with this status
LINE_STATUSES = {Fault.RATE_LIMIT: 429, Fault.SERVER_ERROR: 500, Fault.BAD_REQUEST: 400}


@dataclass
class StoredFile:
    """An uploaded (or generated) file."""

    id: str
    filename: str
    purpose: str
    content: bytes
    created_at: int

    def describe(self) -> dict[str, Any]:
        """The file object as the API returns it."""
        return {"id": self.id, "object": "file", "bytes": len(self.content), "created_at": self.created_at,
                "filename": self.filename, "purpose": self.purpose, "status": "processed"}


@dataclass
class StoredBatch:
    """A batch and how far it has got."""

    id: str
    input_file_id: str
    endpoint: str
    completion_window: str
    created_at: int
    authorization: str
    lines: list[dict[str, Any]]
    fault: BatchFault | None = None
    metadata: dict[str, str] | None = None
    status: str = "validating"
    polls: int = 0
    output_file_id: str | None = None
    error_file_id: str | None = None
    counts: dict[str, int] = field(default_factory=lambda: {"total": 0, "completed": 0, "failed": 0})
    errors: list[dict[str, Any]] | None = None
    usage: dict[str, int] | None = None

    def describe(self) -> dict[str, Any]:
        """The batch object as the API returns it."""
        return {
            "id": self.id, "object": "batch", "endpoint": self.endpoint, "input_file_id": self.input_file_id,
            "completion_window": self.completion_window, "status": self.status, "created_at": self.created_at,
            "output_file_id": self.output_file_id, "error_file_id": self.error_file_id,
            "request_counts": dict(self.counts), "metadata": self.metadata, "usage": self.usage,
            "errors": {"object": "list", "data": self.errors} if self.errors else None,
            "in_progress_at": self.created_at if self.status != "validating" else None,
        }


class BatchDesk:
    """Serves the Batch API routes for one plan; shares the chat endpoint's fault script and counts.

    Args:
        plan: the fault plan.
        script: the chat endpoint's fault script.
        stats: the server's counts (``files_created``, ``batches_created``, ``batch_lines`` and faults).
        record: called with the batch's authorization and each answered line's body (the plan decides
            whether it keeps them).

    """

    def __init__(self, plan: FaultPlan, script: FaultScript, stats: Any, record: Recorder) -> None:
        self._plan = plan
        self._script = script
        self._stats = stats
        self._record = record
        self.files: dict[str, StoredFile] = {}
        self.batches: dict[str, StoredBatch] = {}

    async def serve(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Answer | None:
        """Answer a Batch API request, or None when ``target`` is not one of its routes."""
        url = urlsplit(target)
        parts = [unquote(part) for part in url.path.strip("/").split("/")]
        if parts[:2] not in (["v1", "files"], ["v1", "batches"]):
            return None
        query = {name: values[0] for name, values in parse_qs(url.query).items()}
        route = (method, parts[1], len(parts))
        if route == ("POST", "files", 2):
            return await self._held("upload", self._upload(headers, body))
        if route == ("GET", "files", 2):
            found = [f for f in self.files.values() if query.get("purpose") in (None, f.purpose)]
            return self._listing([f.describe() for f in found], query)
        if method == "GET" and parts[1] == "files" and parts[2:3] and parts[2] in self.files:
            stored = self.files[parts[2]]
            if len(parts) == 4 and parts[3] == "content":
                return await self._held("content", (200, stored.content, "application/octet-stream"))
            return _json(200, stored.describe())
        if route == ("POST", "batches", 2):
            return await self._held("create", self._create(json.loads(body), headers.get("authorization") or ""))
        if route == ("GET", "batches", 2):
            return self._listing([b.describe() for b in self.batches.values()], query)
        batch = self.batches.get(parts[2]) if len(parts) > 2 and parts[1] == "batches" else None
        if batch is None:
            return _json(404, {"error": {"message": f"no such object: {url.path}", "type": "invalid_request_error"}})
        if method == "GET" and len(parts) == 3:
            self._advance(batch)
            return await self._held("retrieve", _json(200, batch.describe()))
        if method == "POST" and parts[3:] == ["cancel"]:
            if batch.status not in TERMINAL:
                batch.status = "cancelling"
            return _json(200, batch.describe())
        return _json(404, {"error": {"message": f"no route {method} {url.path}"}})

    async def _held(self, phase: str, answer: Answer) -> Answer:
        """Wait the plan's delay for ``phase`` (after acting), then answer."""
        delay = self._plan.batch_delays.get(phase, 0.0)
        if delay:
            await asyncio.sleep(delay)
        return answer

    def _upload(self, headers: dict[str, str], body: bytes) -> Answer:
        """Store a multipart upload (fields ``file`` and ``purpose``)."""
        head = f"Content-Type: {headers.get('content-type', '')}\r\n\r\n".encode()
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
        fields: dict[str, tuple[str | None, bytes]] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            fields[str(name)] = (part.get_filename(), part.get_payload(decode=True) or b"")
        if "file" not in fields:
            return _json(400, {"error": {"message": "multipart field 'file' is missing"}})
        filename, content = fields["file"]
        purpose = fields.get("purpose", (None, b"batch"))[1].decode()
        self._stats.files_created += 1
        return _json(200, self._store(filename or "upload.jsonl", purpose, content).describe())

    def _listing(self, items: list[dict[str, Any]], query: dict[str, str]) -> Answer:
        """A page of a list, newest first (as the API lists files and batches): ``limit`` items after ``after``."""
        newest = items[::-1]
        ids = [item["id"] for item in newest]
        start = ids.index(query["after"]) + 1 if query.get("after") in ids else 0
        size = min(int(query.get("limit") or self._plan.page_limit), self._plan.page_limit)
        page = newest[start : start + size]
        return _json(200, {"object": "list", "data": page, "has_more": start + size < len(newest)})

    def _store(self, filename: str, purpose: str, content: bytes, file_id: str | None = None) -> StoredFile:
        stored = StoredFile(file_id or f"file-{len(self.files) + 1}", filename, purpose, content, int(time.time()))
        self.files[stored.id] = stored
        return stored

    def _create(self, data: dict[str, Any], authorization: str) -> Answer:
        """Create a batch over an uploaded file; unreadable lines make it fail validation."""
        source = self.files.get(str(data.get("input_file_id")))
        if source is None:
            return _json(404, {"error": {"message": f"no such file: {data.get('input_file_id')}"}})
        self._stats.batches_created += 1
        number = len(self.batches) + 1
        lines, errors = [], []
        for index, text in enumerate(source.content.decode().split("\n"), start=1):
            if not text.strip():
                continue
            try:
                line = json.loads(text)
                assert line["url"] == data.get("endpoint") and isinstance(line["body"], dict)
                lines.append(line)
            except (ValueError, KeyError, TypeError, AssertionError):
                errors.append({"code": "invalid_line", "message": f"line {index} is not a request", "line": index})
        batch = StoredBatch(
            f"batch_{number}", source.id, str(data.get("endpoint")), str(data.get("completion_window")),
            int(time.time()), authorization, lines, self._plan.batch_faults.get(number), data.get("metadata"),
        )
        batch.counts["total"] = len(lines)
        if errors:
            batch.fault, batch.errors = BatchFault.FAIL_VALIDATION, errors
        self.batches[batch.id] = batch
        return _json(200, batch.describe())

    def _advance(self, batch: StoredBatch) -> None:
        """One retrieve: move the batch on a phase every ``batch_polls`` retrieves; answer it when it ends."""
        if batch.status in TERMINAL:
            return
        if batch.status == "cancelling":
            return self._finish(batch, "cancelled", [])
        batch.polls += 1
        per_phase = max(1, self._plan.batch_polls)
        phase = (batch.polls - 1) // per_phase
        if batch.fault == BatchFault.FAIL_VALIDATION:
            batch.errors = batch.errors or [{"code": "invalid_request", "message": "injected validation failure",
                                             "line": None}]
            return self._finish(batch, "failed", [])
        if batch.fault == BatchFault.EXPIRE and phase >= 2:
            return self._finish(batch, "expired", batch.lines[: len(batch.lines) // 2])
        if phase >= 3:
            return self._finish(batch, "completed", batch.lines)
        batch.status = ("validating", "in_progress", "finalizing")[phase]
        if batch.status == "in_progress":
            done = (batch.polls - per_phase) * batch.counts["total"] // (per_phase + 1)
            batch.counts["completed"] = done

    def _finish(self, batch: StoredBatch, status: str, answered: list[dict[str, Any]]) -> None:
        """End a batch: answer ``answered`` into an output and an error file (the rest stay unanswered)."""
        outputs: list[str] = []
        failures: list[str] = []
        usage = {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0}
        for index, line in enumerate(answered):
            if batch.fault == BatchFault.ERROR_LINES and index % 2 == 1:
                failures.append(_error_line(line, 500, "injected batch line error"))
                continue
            kind, text, tokens = self._answer(line, batch.authorization)
            (outputs if kind == "output" else failures).append(text)
            usage["input_tokens"] += tokens.get("prompt_tokens", 0)
            usage["output_tokens"] += tokens.get("completion_tokens", 0)
        usage["total_tokens"] = usage["input_tokens"] + usage["output_tokens"]
        if batch.fault == BatchFault.OUT_OF_ORDER:
            outputs.reverse()
        if outputs:
            named = self._plan.output_file_id
            batch.output_file_id = self._store(f"{batch.id}_output.jsonl", "batch_output", _joined(outputs), named).id
        if failures:
            batch.error_file_id = self._store(f"{batch.id}_error.jsonl", "batch_output", _joined(failures)).id
        batch.status, batch.usage = status, usage
        batch.counts.update(completed=len(outputs), failed=len(failures))

    def _answer(self, line: dict[str, Any], authorization: str) -> tuple[str, str, dict[str, int]]:
        """One line's answer by the chat endpoint's fault logic: ``output`` or ``error``, the line, its usage."""
        body = line["body"]
        self._stats.batch_lines += 1
        number = self._stats.batch_lines
        fault = self._script.next_fault(body)
        self._stats.faults[fault.value] += 1
        self._record(authorization, body)
        if fault in LINE_STATUSES:  # like the chat endpoint, a bad request echoes what it was sent, the key included
            echo = f" (sent with {authorization})" if fault == Fault.BAD_REQUEST else ""
            message = f"injected {fault.value}{echo}"
            return "error", _error_line(line, LINE_STATUSES[fault], message), {}
        if fault == Fault.HANG:
            error = {"code": "timeout", "message": "the request timed out"}
            return "error", _line({"id": f"batch_req_{number}", "custom_id": line["custom_id"],
                                    "response": None, "error": error}), {}
        answer: Any = completion_body(body, fault, self._plan, number)
        usage = answer["usage"]
        if fault == Fault.MALFORMED_JSON:
            answer, usage = '{"id": "chatcmpl-x", "choices": [{"message": {"content": ', {}
        elif fault == Fault.NO_CHOICES:
            answer, usage = {"id": "chatcmpl-x", "choices": []}, {}
        elif fault == Fault.WRONG_TYPES:
            usage = {}  # its usage cannot be counted
        text = _line({
            "id": f"batch_req_{number}", "custom_id": line["custom_id"],
            "response": {"status_code": 200, "request_id": f"req_{number}", "body": answer}, "error": None,
        })
        return "output", text[: len(text) // 2] if fault == Fault.TRUNCATED else text, usage


def _error_line(line: dict[str, Any], status: int, message: str) -> str:
    """An error-file line for a request the service answered with ``status``."""
    return _line({
        "id": f"batch_req_err_{line['custom_id'][-8:]}", "custom_id": line["custom_id"],
        "response": {"status_code": status, "request_id": "req_err", "body": {"error": {"message": message}}},
        "error": None,
    })


def _line(data: dict[str, Any]) -> str:
    """One output or error line: JSON with non-ASCII characters raw, as the service writes them."""
    return json.dumps(data, ensure_ascii=False)


def _joined(lines: list[str]) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def _json(status: int, data: object) -> Answer:
    return status, json.dumps(data).encode(), JSON
