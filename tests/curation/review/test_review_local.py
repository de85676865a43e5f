"""The local server's life cycle: clear setup errors, venv reuse, and `alttrain review serve` until Ctrl+C
(printing where the credentials are, never the credentials)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
import yaml

from alttrain.errors import ServerSetupError
from alttrain.services.argilla.config import ServerConfig
from alttrain.services.argilla.local import LocalArgilla, free_port, start_local_argilla
from alttrain.services.argilla.venv import MARKER_NAME, ensure_server_venv, venv_is_ready


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_missing_redis_server_says_how_to_install_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))

    with pytest.raises(ServerSetupError, match="apt-get install redis-server"):
        start_local_argilla(ServerConfig(home=tmp_path / "home", port=free_port()))
    assert not (tmp_path / "home").exists()


def test_a_taken_port_is_a_clear_error(argilla_server: LocalArgilla, tmp_path: Path) -> None:
    port = int(argilla_server.url.rsplit(":", 1)[1])

    with pytest.raises(ServerSetupError, match=f"port {port} .* in use"):
        start_local_argilla(ServerConfig(home=tmp_path / "home", port=port))


def test_a_complete_venv_is_reused_and_an_incomplete_one_is_not_ready(
    argilla_server: LocalArgilla, tmp_path: Path
) -> None:
    venv = ServerConfig().venv_path()
    half_built = tmp_path / "venv"
    (half_built / "bin").mkdir(parents=True)
    (half_built / "bin" / "python").touch()
    (half_built / MARKER_NAME).write_text("argilla-server==1.0\n")

    assert ensure_server_venv(venv) is False  # reused, not rebuilt
    assert venv_is_ready(venv) and not venv_is_ready(half_built)


def _read_lines(stream, lines: list[str]) -> None:
    for line in stream:
        lines.append(line)


def _wait_for(lines: list[str], pattern: str, process: subprocess.Popen[str], timeout_s: float) -> re.Match[str]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for line in list(lines):
            if match := re.search(pattern, line):
                return match
        if process.poll() is not None:
            break
        time.sleep(0.2)
    raise AssertionError(f"no {pattern!r} in the serve output:\n{''.join(lines)}")


def test_serve_runs_until_ctrl_c_and_stops_everything(argilla_server: LocalArgilla, tmp_path: Path) -> None:
    home, port = tmp_path / "home", free_port()
    server = {"home": str(home), "port": port, "username": "reviewer", "venv": str(ServerConfig().venv_path())}
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump({"name": "serve", "prompts": {"sources": [{"kind": "harmbench"}]}, "review": {"server": server}})
    )
    command = [
        str(Path(sys.executable).parent / "alttrain"),
        "review",
        "serve",
        "-c",
        str(config),
        "-r",
        str(tmp_path / "run"),
    ]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "300", "PYTHONUNBUFFERED": "1"},
    )
    lines: list[str] = []
    threading.Thread(target=_read_lines, args=(process.stdout, lines), daemon=True).start()
    try:
        redis_port = int(_wait_for(lines, r"redis-server on 127\.0\.0\.1:(\d+)", process, 60).group(1))
        url = _wait_for(lines, r"Argilla is up at (\S+)", process, 120).group(1)
        env_file = Path(_wait_for(lines, r"^  source (\S+)$", process, 5).group(1))
        _wait_for(lines, r"state \(database, logs\)", process, 5)
        assert url == f"http://127.0.0.1:{port}"
        assert env_file == home / "push-pull.env" and stat.S_IMODE(env_file.stat().st_mode) == 0o600
        loaded = subprocess.run(  # what a user gets from the printed line, in a shell of their own
            ["bash", "-c", f'source {env_file} && printf "%s %s" "$ARGILLA_API_URL" "$ARGILLA_API_KEY"'],
            capture_output=True,
            text=True,
            check=True,
            env={"PATH": os.environ["PATH"]},
        ).stdout
        assert loaded.split(" ")[0] == url
        key = loaded.split(" ")[1]
        me = httpx.get(f"{url}/api/v1/me", headers={"X-Argilla-Api-Key": key}, timeout=10).json()
        assert (me["username"], me["role"]) == ("reviewer", "owner")
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=60)
    output = "".join(lines)
    assert code == 0, output
    assert any("stopped the server and Redis" in line for line in lines)
    assert not _listening(port) and not _listening(redis_port)
    stored = json.loads((home / "credentials.json").read_text())
    secrets = [stored["auth_secret_key"], stored["redis_password"], *stored["users"]["reviewer"].values()]
    assert key in secrets and all(len(secret) >= 12 for secret in secrets)
    assert not [secret for secret in secrets if secret in output], output  # no secret reaches the terminal
    assert "export" not in output and f"{home / 'credentials.json'}" in output
    assert stat.S_IMODE(home.stat().st_mode) == 0o700

    with start_local_argilla(ServerConfig(home=home, port=free_port(), username="reviewer")) as again:
        assert again.credentials.api_key == key  # same home: same owner, same data
        answer = httpx.get(f"{again.url}/api/v1/me", headers={"X-Argilla-Api-Key": key}, timeout=10)
        assert answer.status_code == 200 and again.venv_built is False
