"""The argilla-server venv: built once from pinned requirements, reused while its marker matches.

argilla-server 2.8.0 cannot share alttrain's environment (it needs ``click<8.2``,
``huggingface-hub<1.0`` and ``datasets<4``), so it gets a venv of its own. A marker file written after
a successful install records the requirements; a venv without a matching marker is rebuilt.

alttrain only ever deletes a folder it made: a build writes a "building" marker into the folder before
anything else and the ready marker after the install, so a folder holding either marker is alttrain's
(an interrupted build, or a venv of older requirements) and is rebuilt. Any other non-empty folder at
the configured path (a user's own venv, a mistyped ``review.server.venv``) is refused with an error,
never removed.
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
BUILDING_MARKER_NAME = ".alttrain-server-building"  # written before the build starts, removed when it is ready
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


def built_by_alttrain(venv: Path) -> bool:
    """Tell whether the folder ``venv`` holds one of alttrain's markers (so alttrain made it)."""
    return (venv / BUILDING_MARKER_NAME).is_file() or (venv / MARKER_NAME).is_file()


def _clear_for_build(venv: Path, say: Callable[[str], None]) -> None:
    """Remove alttrain's own unusable venv at ``venv``; refuse anything that alttrain did not make.

    Raises:
        ServerSetupError: when ``venv`` is a file, or a non-empty folder without alttrain's markers.

    """
    if not venv.exists() and not venv.is_symlink():
        return
    if venv.is_symlink() or not venv.is_dir():
        raise ServerSetupError(
            f"{venv} is not a folder alttrain made for the argilla-server venv: remove it, or set "
            "review.server.venv (or $ALTTRAIN_ARGILLA_VENV) to another path"
        )
    if built_by_alttrain(venv):
        say(f"removing the incomplete or outdated server venv at {venv}")
        shutil.rmtree(venv)
    elif any(venv.iterdir()):
        raise ServerSetupError(
            f"{venv} exists and was not made by alttrain (no {MARKER_NAME} or {BUILDING_MARKER_NAME} in it), "
            "so alttrain will not replace it: remove it yourself, or set review.server.venv "
            "(or $ALTTRAIN_ARGILLA_VENV) to another path"
        )


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
        ServerSetupError: when something alttrain did not make is at ``venv``, or creating the venv or
            installing into it fails.

    """
    say = on_step or (lambda _message: None)
    with _build_lock(venv):
        if venv_is_ready(venv):
            return False
        _clear_for_build(venv, say)
        say(f"creating the argilla-server venv at {venv} (once; about a minute)")
        venv.mkdir(exist_ok=True)  # empty or new: claim it before anything else goes in
        (venv / BUILDING_MARKER_NAME).write_text("an interrupted build of alttrain's argilla-server venv\n")
        _run([sys.executable, "-m", "venv", str(venv)], f"python -m venv {venv}")
        pip = [str(server_python(venv)), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        _run([*pip, *SERVER_REQUIREMENTS], f"pip install {' '.join(SERVER_REQUIREMENTS)}")
        (venv / MARKER_NAME).write_text(_marker_text())
        (venv / BUILDING_MARKER_NAME).unlink()
    return True
