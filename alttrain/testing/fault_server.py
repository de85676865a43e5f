"""A fault-injecting OpenAI-compatible server on loopback, for tests and benchmarks.

Real HTTP/1.1 with keep-alive over asyncio streams (no thread per request), so hundreds of requests
can wait on its fixed latency at once. It answers ``POST /v1/chat/completions``, ``GET /v1/models``,
``GET /stats`` (request counts) and the Batch API's files and batches (:mod:`alttrain.testing.batches`).
What each completion request (or batch line) gets is decided by a
:class:`~alttrain.testing.answers.FaultPlan` (see :mod:`alttrain.testing.answers`).

Run it in a background thread (:class:`FaultServer`) or in its own process
(:class:`~alttrain.testing.process.FaultServerProcess`, ``python -m alttrain.testing --plan JSON``) so
that a benchmark's client does not share its interpreter.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from alttrain.llm.config import TeacherConfig
from alttrain.testing.answers import HTTP_FAULTS, Fault, FaultPlan, FaultScript, completion_body
from alttrain.testing.batches import BatchDesk

_REASONS = {
    200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 429: "Too Many Requests",
    500: "Internal Server Error",
}
HOST = "127.0.0.1"
START_TIMEOUT_S = 30.0


@dataclass
class ServerStats:
    """What the server saw: every HTTP request, completion requests, faults served, peak concurrency, batches."""

    requests: int = 0
    completions: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    files_created: int = 0  # uploads to POST /v1/files
    batches_created: int = 0
    batch_lines: int = 0  # batch requests answered (or failed) line by line


@dataclass(frozen=True)
class RecordedRequest:
    """A completion request or batch line as the server received it (kept when the plan says ``record_requests``)."""

    authorization: str | None
    body: dict[str, Any]
    arrived: float = 0.0  # time.monotonic() when the server read it (a client's rate over time)


class Handler:
    """Serves connections for one plan; lives on the server's event loop."""

    def __init__(self, plan: FaultPlan) -> None:
        self.plan = plan
        self.stats = ServerStats()
        self._script = FaultScript(plan)
        self.tasks: set[asyncio.Task[None]] = set()
        self.recorded: list[RecordedRequest] = []
        self.log: list[str] = []  # "METHOD target" of every request, as it arrives
        self.batches = BatchDesk(plan, self._script, self.stats, self._record)

    async def connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve requests on one keep-alive connection until the client closes it."""
        task = asyncio.current_task()
        if task is not None:
            self.tasks.add(task)
        try:
            while await self._one_request(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, ValueError, asyncio.CancelledError):
            pass  # a client that went away, a garbled request, or the server shutting down
        finally:
            if task is not None:
                self.tasks.discard(task)
            writer.close()

    async def _one_request(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Read and answer one request; False when the connection must close."""
        request_line = await reader.readline()
        if not request_line:
            return False
        method, path, _ = request_line.decode("latin-1").split(" ", 2)
        headers: dict[str, str] = {}
        while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", 0))
        body = await reader.readexactly(length) if length else b""
        self.stats.requests += 1
        self.log.append(f"{method} {path}")
        if path.startswith(("/v1/files", "/v1/batches")):
            refused = self._key_refusal(headers.get("authorization"))
            answer = refused[1:] if refused else await self.batches.serve(method, path, headers, body)
            if answer is not None:
                return await _send(writer, answer[0], answer[1], content_type=answer[2])
        if method == "POST" and path.rstrip("/").endswith("/chat/completions"):
            data = json.loads(body)
            self._record(headers.get("authorization"), data)
            refusal = self._access_refusal(headers.get("authorization"), data)
            if refusal is not None:
                self.stats.completions += 1
                self.stats.faults[refusal[0]] += 1
                return await _send(writer, refusal[1], refusal[2])
            return await self._completion(data, writer, headers.get("authorization") or "")
        if method == "GET" and path.rstrip("/").endswith("/models"):
            model = {"id": self.plan.model, "object": "model", "owned_by": "alttrain"}
            data = {"object": "list", "data": [model]}
            return await _send(writer, 200, json.dumps(data).encode())
        if method == "GET" and path == "/stats":
            counts = {**asdict(self.stats), "faults": dict(self.stats.faults)}  # asdict mangles a Counter
            return await _send(writer, 200, json.dumps(counts).encode())
        return await _send(writer, 404, b'{"error": {"message": "not found"}}')

    def _record(self, authorization: str | None, body: dict[str, Any]) -> None:
        """Keep a request's body when the plan records requests."""
        if self.plan.record_requests:
            self.recorded.append(RecordedRequest(authorization, body, time.monotonic()))

    def _key_refusal(self, authorization: str | None) -> tuple[str, int, bytes, str] | None:
        """(fault name, status, body, content type) for a request with the wrong key, else None."""
        key = (authorization or "").removeprefix("Bearer ")
        if self.plan.api_key is not None and key != self.plan.api_key:
            echoed = f"Incorrect API key provided: {key}. You can find your API key in your account settings."
            body = json.dumps({"error": {"message": echoed, "code": "invalid_api_key"}}).encode()
            return "unauthorized", 401, body, "application/json"
        return None

    def _access_refusal(self, authorization: str | None, body: dict[str, Any]) -> tuple[str, int, bytes] | None:
        """(fault name, status, body) for a request with the wrong key or an unknown model, else None."""
        refused = self._key_refusal(authorization)
        if refused is not None:
            return refused[:3]
        model = body.get("model")
        if self.plan.models is not None and model not in self.plan.models:
            message = f"The model `{model}` does not exist or you do not have access to it."
            return "unknown_model", 404, json.dumps({"error": {"message": message, "code": "model_not_found"}}).encode()
        return None

    async def _completion(self, body: dict[str, Any], writer: asyncio.StreamWriter, authorization: str) -> bool:
        """Answer one chat-completion request after the plan's latency, with its scripted fault."""
        self.stats.completions += 1
        fault = self._script.next_fault(body)
        self.stats.faults[fault.value] += 1
        self.stats.in_flight += 1
        self.stats.max_in_flight = max(self.stats.max_in_flight, self.stats.in_flight)
        try:
            if self.plan.latency_s:
                await asyncio.sleep(self.plan.latency_s)
            if fault in HTTP_FAULTS:
                return await self._http_fault(fault, writer, authorization)
            if fault == Fault.MALFORMED_JSON:
                return await _send(writer, 200, b'{"id": "chatcmpl-x", "choices": [{"message": {"content": ')
            if fault == Fault.NO_CHOICES:
                return await _send(writer, 200, b'{"id": "chatcmpl-x", "choices": []}')
            response = completion_body(body, fault, self.plan, self.stats.completions)
            return await _send(writer, 200, json.dumps(response).encode())
        finally:
            self.stats.in_flight -= 1

    async def _http_fault(self, fault: Fault, writer: asyncio.StreamWriter, authorization: str) -> bool:
        """Serve a fault at the HTTP level."""
        if fault == Fault.RATE_LIMIT:
            error = b'{"error": {"message": "rate limited", "type": "rate_limit_error"}}'
            return await _send(writer, 429, error, {"retry-after": str(self.plan.retry_after_s)})
        if fault == Fault.SERVER_ERROR:
            return await _send(writer, 500, b'{"error": {"message": "injected server error"}}')
        if fault == Fault.BAD_REQUEST:  # like many servers, it echoes what it was sent, the key included
            message = f"injected bad request (sent with {authorization or 'no authorization'})"
            return await _send(writer, 400, json.dumps({"error": {"message": message}}).encode())
        if fault == Fault.HANG:
            await asyncio.sleep(self.plan.hang_s)
            return False
        body = json.dumps(completion_body({}, Fault.OK, self.plan, 0)).encode()  # TRUNCATED
        writer.write(_head(200, len(body)) + body[: len(body) // 2])
        await writer.drain()
        return False


def _head(
    status: int, length: int, headers: dict[str, str] | None = None, content_type: str = "application/json"
) -> bytes:
    """Status line and headers of a response (JSON unless said otherwise)."""
    lines = [f"HTTP/1.1 {status} {_REASONS[status]}", f"content-type: {content_type}"]
    lines.append(f"content-length: {length}")
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _send(
    writer: asyncio.StreamWriter,
    status: int,
    body: bytes,
    headers: dict[str, str] | None = None,
    *,
    content_type: str = "application/json",
) -> bool:
    """Write one complete response; True: the connection stays open."""
    writer.write(_head(status, len(body), headers, content_type) + body)
    await writer.drain()
    return True


async def serve(
    plan: FaultPlan, port: int, ready: asyncio.Future[tuple[int, Handler]], stop: asyncio.Event
) -> None:
    """Listen until ``stop`` is set, then cancel open connections (hanging ones included)."""
    handler = Handler(plan)
    server = await asyncio.start_server(handler.connection, HOST, port, backlog=4096)
    ready.set_result((server.sockets[0].getsockname()[1], handler))
    async with server:
        await stop.wait()
        server.close()
        for task in list(handler.tasks):
            task.cancel()
        await asyncio.gather(*handler.tasks, return_exceptions=True)


def teacher_config(base_url: str, **overrides: Any) -> TeacherConfig:
    """An ``openai`` teacher pointed at ``base_url`` with quick retries and circuit cooldowns (overrides win)."""
    settings: dict[str, Any] = {
        "backend": "openai", "model": "fault-teacher", "base_url": base_url,
        "timeout_s": 5.0, "backoff_base_s": 0.01, "backoff_max_s": 0.05,
        "circuit": {"cooldown_s": 0.01, "cooldown_max_s": 0.05},
    }
    return TeacherConfig.model_validate({**settings, **overrides})


class FaultServer:
    """The server on a background thread of this process: ``with FaultServer(plan) as server: ...``."""

    def __init__(self, plan: FaultPlan | None = None, port: int = 0) -> None:
        self.plan = plan or FaultPlan()
        self._port = port
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fault-server", daemon=True)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._handler: Handler | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL (``http://127.0.0.1:PORT/v1``)."""
        return f"http://{HOST}:{self.port}/v1"

    def stats(self) -> ServerStats:
        """Return a snapshot of the server's counts."""
        assert self._handler is not None, "server not started"
        return replace(self._handler.stats, faults=Counter(self._handler.stats.faults))

    def recorded(self) -> list[RecordedRequest]:
        """Return the completion requests and batch lines received so far (the plan must set ``record_requests``)."""
        assert self._handler is not None, "server not started"
        return list(self._handler.recorded)

    def request_log(self) -> list[str]:
        """Return ``"METHOD target"`` for every request received so far, in arrival order."""
        assert self._handler is not None, "server not started"
        return list(self._handler.log)

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        ready: asyncio.Future[tuple[int, Handler]] = self._loop.create_future()
        ready.add_done_callback(lambda future: self._on_ready(*future.result()))
        await serve(self.plan, self._port, ready, self._stop)

    def _on_ready(self, port: int, handler: Handler) -> None:
        self.port, self._handler = port, handler
        self._started.set()

    def __enter__(self) -> FaultServer:
        self._thread.start()
        if not self._started.wait(timeout=10):
            raise RuntimeError("fault server did not start within 10 s")
        return self

    def __exit__(self, *_: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=10)
