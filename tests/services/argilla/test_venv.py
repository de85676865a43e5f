"""The server venv is rebuilt only where alttrain made it: a folder of the user's is never deleted.

Creating a venv and installing argilla-server take a minute and the network, so these tests replace the
two build commands (``venv._run``) with stand-ins; what is kept, removed or refused is the real code.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from alttrain.errors import ServerSetupError
from alttrain.services.argilla import venv as server_venv
from alttrain.services.argilla.venv import (
    BUILDING_MARKER_NAME,
    MARKER_NAME,
    ensure_server_venv,
    server_python,
    venv_is_ready,
)


class FakeBuild:
    """Stand-in for ``python -m venv`` and ``pip install``: make the interpreter file, or fail at pip."""

    def __init__(self, fail_at_pip: bool = False) -> None:
        self.fail_at_pip = fail_at_pip
        self.commands: list[list[str]] = []

    def __call__(self, command: list[str], what: str) -> None:
        self.commands.append(command)
        if command[1:3] == ["-m", "venv"]:
            venv = Path(command[3])
            assert (venv / BUILDING_MARKER_NAME).is_file(), "the building marker comes before anything else"
            server_python(venv).parent.mkdir(parents=True, exist_ok=True)
            server_python(venv).touch()
            (venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
        elif self.fail_at_pip:
            raise ServerSetupError(f"{what} failed (exit 1):\nno network")


@pytest.fixture
def build(monkeypatch: pytest.MonkeyPatch) -> FakeBuild:
    fake = FakeBuild()
    monkeypatch.setattr(server_venv, "_run", fake)
    return fake


def test_a_folder_alttrain_did_not_make_is_refused_and_kept(tmp_path: Path, build: FakeBuild) -> None:
    venv = tmp_path / "my-project-venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").touch()
    (venv / "notes.txt").write_text("the user's own file")

    with pytest.raises(ServerSetupError) as raised:
        ensure_server_venv(venv)

    message = str(raised.value)
    assert str(venv) in message and "review.server.venv" in message and "remove it" in message
    assert (venv / "notes.txt").read_text() == "the user's own file"
    assert sorted(p.name for p in venv.iterdir()) == ["bin", "notes.txt"] and build.commands == []


def test_a_file_at_the_venv_path_is_refused_and_kept(tmp_path: Path, build: FakeBuild) -> None:
    path = tmp_path / "venv"
    path.write_text("not a folder")

    with pytest.raises(ServerSetupError, match="review.server.venv"):
        ensure_server_venv(path)
    assert path.read_text() == "not a folder" and build.commands == []


def test_an_empty_folder_is_built_into(tmp_path: Path, build: FakeBuild) -> None:
    venv = tmp_path / "venv"
    venv.mkdir()

    assert ensure_server_venv(venv) is True
    assert venv_is_ready(venv) and not (venv / BUILDING_MARKER_NAME).exists()
    assert ensure_server_venv(venv) is False and len(build.commands) == 2  # ready: reused, not rebuilt


def test_an_interrupted_build_is_removed_and_rebuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    venv = tmp_path / "venv"
    failing = FakeBuild(fail_at_pip=True)
    monkeypatch.setattr(server_venv, "_run", failing)
    with pytest.raises(ServerSetupError, match="no network"):
        ensure_server_venv(venv)
    assert (venv / BUILDING_MARKER_NAME).is_file() and not (venv / MARKER_NAME).exists()
    (venv / "leftover").write_text("from the failed build")

    steps: list[str] = []
    monkeypatch.setattr(server_venv, "_run", FakeBuild())
    assert ensure_server_venv(venv, steps.append) is True
    assert not (venv / "leftover").exists() and venv_is_ready(venv)
    assert any("removing" in step for step in steps)


def test_a_venv_of_older_requirements_is_rebuilt(tmp_path: Path, build: FakeBuild) -> None:
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    server_python(venv).touch()
    (venv / MARKER_NAME).write_text("argilla-server==1.0\n")  # alttrain's marker, for other pins
    (venv / "old-site-packages").mkdir()

    assert ensure_server_venv(venv) is True
    assert venv_is_ready(venv) and not (venv / "old-site-packages").exists()
