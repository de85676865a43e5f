"""Child processes that serve something: start, read the address they report, wait until ready, stop.

Three servers run as children of alttrain: the embedded teacher (xllamacpp), the local Argilla (Redis and
argilla-server) and the fault-injecting test server. :class:`ChildServer` is what they share: stopping
closes the child's stdin (a child that watches it exits on its own), then sends SIGTERM, then SIGKILL,
waiting ``grace_s`` after each step, and always reaps the child. Callers turn the reason strings this
module returns into their own errors.
"""

from __future__ import annotations

import contextlib
import queue
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

#: how often :meth:`ChildServer.wait_ready` asks again
POLL_S = 0.1


class ChildServer:
    """One child process started with ``command``.

    Args:
        command: the program and its arguments.
        env: the child's whole environment (None: inherit this process's).
        stdout: where its output goes (default: a pipe, for :meth:`read_line`).
        stderr: where its errors go (default: inherited).
        stdin_pipe: give the child a stdin pipe that :meth:`stop` closes first.
        new_session: start it in its own session (it does not get the terminal's Ctrl+C).

    """

    def __init__(
        self,
        command: list[str],
        *,
        env: Mapping[str, str] | None = None,
        stdout: int | IO[Any] = subprocess.PIPE,
        stderr: int | IO[Any] | None = None,
        stdin_pipe: bool = False,
        new_session: bool = False,
    ) -> None:
        self.process = subprocess.Popen(
            command,
            env=dict(env) if env is not None else None,
            stdin=subprocess.PIPE if stdin_pipe else None,
            stdout=stdout,
            stderr=stderr,
            text=True,
            start_new_session=new_session,
        )

    @property
    def pid(self) -> int:
        """The child's process id."""
        return self.process.pid

    def exited(self) -> int | None:
        """The exit code when the child has ended, else None."""
        return self.process.poll()

    def send_line(self, line: str) -> None:
        """Write one line to the child's stdin (a child that already exited is reported by what follows)."""
        stdin = self.process.stdin
        assert stdin is not None, "send_line needs stdin_pipe=True"
        with contextlib.suppress(BrokenPipeError):
            stdin.write(line + "\n")
            stdin.flush()

    def read_line(self, deadline: float) -> str | None:
        """Read one line of the child's stdout before ``deadline`` (a ``time.monotonic`` value).

        Returns the line, ``""`` when the child closed its stdout (it exited) first, or None when the
        deadline passed.
        """
        stdout = self.process.stdout
        assert stdout is not None, "read_line needs stdout=PIPE"
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
        try:
            return lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            return None

    def wait_ready(self, probe: Callable[[], str | None], deadline: float) -> str | None:
        """Call ``probe`` until it returns None (ready) or ``deadline`` passes; return None or why not.

        ``probe`` returns None when the child is ready, else a short status (``HTTP 503``, ``refused``).
        """
        last = "no answer"
        while time.monotonic() < deadline:
            code = self.exited()
            if code is not None:
                return f"the process exited (code {code})"
            status = probe()
            if status is None:
                return None
            last = status
            time.sleep(POLL_S)
        return f"not ready in time (last: {last})"

    def wait(self) -> int:
        """Block until the child ends; return its exit code."""
        return self.process.wait()

    def stop(self, grace_s: float = 5.0) -> None:
        """Close stdin, then SIGTERM, then SIGKILL, waiting ``grace_s`` after each; reap; safe to call twice."""
        process = self.process
        if process.stdin is not None and not process.stdin.closed:
            with contextlib.suppress(OSError):  # a child that already died leaves a broken pipe
                process.stdin.close()
            self._wait(grace_s)
        for signal_child in (process.terminate, process.kill):
            if process.poll() is not None:
                break
            signal_child()
            self._wait(grace_s)
        process.wait()
        if process.stdout is not None and not process.stdout.closed:
            process.stdout.close()

    def _wait(self, seconds: float) -> None:
        """Wait up to ``seconds`` for the child to end."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=seconds)


def process_gone(pid: int, within_s: float = 10.0) -> bool:
    """Whether process ``pid`` has exited (its /proc entry is gone) within ``within_s`` seconds."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if not Path(f"/proc/{pid}").exists():
            return True
        time.sleep(POLL_S)
    return False
