"""The argilla-server venv: built once from pinned requirements, reused while its marker matches.

argilla-server 2.8.0 cannot share alttrain's environment (it needs ``click<8.2``,
``huggingface-hub<1.0`` and ``datasets<4``), so it gets a venv of its own. A marker file written after
a successful install records the requirements; a venv without a matching marker is rebuilt.
"""

from __future__ import annotations

import fcntl
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from alttrain.errors import ServerSetupError

SERVER_REQUIREMENTS: tuple[str, ...] = (
    "argilla-server==2.8.0",
    "click<8.2",  # argilla-server's CLI crashes with click 8.2
    "huggingface-hub<1.0",
    "datasets<4",
)
MARKER_NAME = ".alttrain-server-ready"
OUTPUT_TAIL_CHARS = 3000


def server_python(venv: Path) -> Path:
    """Return the venv's Python interpreter."""
    return venv / "bin" / "python"


def _marker_text() -> str:
    """Return what the marker of a complete venv holds."""
    return "\n".join(SERVER_REQUIREMENTS) + "\n"


def venv_is_ready(venv: Path) -> bool:
    """Tell whether ``venv`` is a complete server venv with the current requirements."""
    marker = venv / MARKER_NAME
    return server_python(venv).exists() and marker.exists() and marker.read_text() == _marker_text()


@contextmanager
def _build_lock(venv: Path) -> Iterator[None]:
    """Hold an exclusive lock beside ``venv`` so that two builders never race."""
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / f".{venv.name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run(command: list[str], what: str) -> None:
    """Run a build step; raise :class:`ServerSetupError` with the output's tail when it fails."""
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = (done.stdout + done.stderr)[-OUTPUT_TAIL_CHARS:]
        raise ServerSetupError(f"{what} failed (exit {done.returncode}):\n{tail}")


def ensure_server_venv(venv: Path, on_step: Callable[[str], None] | None = None) -> bool:
    """Build the server venv at ``venv`` unless a complete one is there.

    Returns:
        True when it was built now, False when an existing one was reused.

    Raises:
        ServerSetupError: when creating the venv or installing into it fails.

    """
    say = on_step or (lambda _message: None)
    with _build_lock(venv):
        if venv_is_ready(venv):
            return False
        if venv.exists():
            say(f"removing the incomplete server venv at {venv}")
            shutil.rmtree(venv)
        say(f"creating the argilla-server venv at {venv} (once; about a minute)")
        _run([sys.executable, "-m", "venv", str(venv)], f"python -m venv {venv}")
        pip = [str(server_python(venv)), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        _run([*pip, *SERVER_REQUIREMENTS], f"pip install {' '.join(SERVER_REQUIREMENTS)}")
        (venv / MARKER_NAME).write_text(_marker_text())
    return True
