"""Secrets of the local Argilla: private files, an allow-listed child environment, Redis behind a password."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
from pathlib import Path

import pytest

from alttrain.errors import ReviewConfigError
from alttrain.services.argilla import local
from alttrain.services.argilla.local import (
    CREDENTIALS_FILE,
    Credentials,
    LocalArgilla,
    ServerSecrets,
    check_env_name,
    load_secrets,
    write_env_file,
)
from curation.review.review_helpers import CALLER_SECRETS

#: what argilla-server may see: the allow-list of the caller's variables, plus what alttrain sets
SERVER_VARIABLES = local.INHERITED_ENV | {
    "PYTHONPATH", "ARGILLA_HOME_PATH", "ARGILLA_DATABASE_URL", "ARGILLA_REDIS_URL", "ARGILLA_AUTH_SECRET_KEY",
    "ARGILLA_SEARCH_ENGINE", "ARGILLA_ENABLE_TELEMETRY", "HF_HUB_DISABLE_TELEMETRY", "HF_HUB_OFFLINE",
    "ALTTRAIN_OWNER_USERNAME", "ALTTRAIN_OWNER_PASSWORD", "ALTTRAIN_OWNER_API_KEY",
}  # fmt: skip


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace")
    return dict(item.split("=", 1) for item in raw.split("\0") if "=" in item)


def _stored(server: LocalArgilla) -> dict:
    return json.loads((server.home / CREDENTIALS_FILE).read_text())


def _redis(port: int, payload: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        reply = b""
        while chunk := sock.recv(4096):
            reply += chunk
    return reply


def _variable_is_allowed(name: str) -> bool:
    return name in SERVER_VARIABLES or name.startswith(local.INHERITED_ENV_PREFIXES)


def test_server_env_is_an_allow_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        **CALLER_SECRETS,
        "AWS_SECRET_ACCESS_KEY": "aws-canary",
        "ARGILLA_API_KEY": "argilla-canary",
        "PYTHONPATH": "/somewhere",
        "LC_ALL": "C.UTF-8",
        "LANG": "C.UTF-8",
    }.items():
        monkeypatch.setenv(name, value)
    secrets = ServerSecrets("auth-secret", "redis-pass")
    env = local._server_env(tmp_path, 6399, secrets, Credentials("owner", "pw", "key"))

    assert not {"OPENAI_API_KEY", "HF_TOKEN", "AWS_SECRET_ACCESS_KEY", "ARGILLA_API_KEY"} & set(env)
    assert not [name for name, value in env.items() if "canary" in value], env
    assert all(_variable_is_allowed(name) for name in env), sorted(set(env) - SERVER_VARIABLES)
    assert env["PATH"] == os.environ["PATH"] and env["LC_ALL"] == "C.UTF-8" and env["LANG"] == "C.UTF-8"
    assert env["PYTHONPATH"] == str(local.PLUGIN_DIR)  # the caller's PYTHONPATH does not leak in
    assert env["ARGILLA_REDIS_URL"] == "redis://:redis-pass@127.0.0.1:6399/0"
    assert env["HF_HUB_OFFLINE"] == "1"


def test_caller_tokens_never_reach_the_running_server_or_redis(argilla_server: LocalArgilla) -> None:
    # conftest started the session server with CALLER_SECRETS set in its environment
    server_pid, redis_pid = argilla_server.pids
    for pid in (server_pid, redis_pid):
        environ = _environ(pid)
        assert not set(CALLER_SECRETS) & set(environ), pid
        assert not [v for v in environ.values() if v in CALLER_SECRETS.values()], pid
        assert all(_variable_is_allowed(name) for name in environ), sorted(set(environ) - SERVER_VARIABLES)
    server_env = _environ(server_pid)
    password = _stored(argilla_server)["redis_password"]
    assert server_env["ARGILLA_REDIS_URL"] == f"redis://:{password}@127.0.0.1:{argilla_server.redis_port}/0"


def test_redis_refuses_a_client_without_the_password(argilla_server: LocalArgilla) -> None:
    port = argilla_server.redis_port
    assert _redis(port, b"PING\r\n").startswith(b"-NOAUTH")
    assert _redis(port, b"AUTH wrong-password\r\nPING\r\n").startswith(b"-WRONGPASS")
    password = _stored(argilla_server)["redis_password"]
    assert len(password) >= 24
    assert _redis(port, f"AUTH {password}\r\nPING\r\n".encode()) == b"+OK\r\n+PONG\r\n"
    # the password is read from a private config file, never put on argv (which any user can list)
    redis_pid = argilla_server.pids[1]
    assert password.encode() not in Path(f"/proc/{redis_pid}/cmdline").read_bytes()
    config = argilla_server.home / "redis" / local.REDIS_CONFIG_FILE
    assert _mode(config) == 0o600 and password in config.read_text()


def test_home_and_credentials_are_private(argilla_server: LocalArgilla) -> None:
    home = argilla_server.home
    assert _mode(home) == 0o700
    assert _mode(argilla_server.credentials_path) == 0o600
    stored = _stored(argilla_server)
    assert stored["users"]["owner"]["api_key"] == argilla_server.credentials.api_key
    assert {"auth_secret_key", "redis_password"} <= set(stored)
    assert argilla_server.credentials.api_key not in repr(argilla_server.credentials)
    assert argilla_server.credentials.password not in repr(argilla_server)


def test_secrets_file_is_0600_before_any_secret_is_in_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "a" / "home"
    replaced: list[tuple[int, str]] = []
    real_replace = os.replace

    def spy(source: str | Path, target: str | Path) -> None:
        # the file that becomes credentials.json: 0600 while it is written, already holding the secrets
        replaced.append((_mode(Path(source)), Path(source).read_text()))
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", spy)
    old_umask = os.umask(0)  # a careless umask must not widen anything
    try:
        credentials, secrets = load_secrets(home, "owner")
    finally:
        os.umask(old_umask)

    assert [mode for mode, _text in replaced] == [0o600]
    assert credentials.api_key in replaced[0][1] and secrets.redis_password in replaced[0][1]
    assert _mode(home / CREDENTIALS_FILE) == 0o600 and _mode(home) == 0o700
    assert sorted(p.name for p in home.iterdir()) == [CREDENTIALS_FILE]  # no temporary file left behind


def test_secrets_are_kept_and_completed_across_restarts(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    # a credentials file of an older alttrain: world-readable, without a Redis password
    older = {"users": {"owner": {"password": "pw-old", "api_key": "key-old"}}, "auth_secret_key": "secret-old"}
    (home / CREDENTIALS_FILE).write_text(json.dumps(older))
    (home / CREDENTIALS_FILE).chmod(0o644)

    credentials, secrets = load_secrets(home, "owner")
    again, secrets_again = load_secrets(home, "owner")

    assert (credentials.password, credentials.api_key, secrets.auth_secret_key) == ("pw-old", "key-old", "secret-old")
    assert secrets.redis_password and secrets_again == secrets and again == credentials
    assert _mode(home) == 0o700 and _mode(home / CREDENTIALS_FILE) == 0o600


def test_env_file_is_private_and_sets_the_variables(argilla_server: LocalArgilla) -> None:
    path = write_env_file(argilla_server, "ALTTRAIN_TEST_KEY")
    assert path == argilla_server.home / local.ENV_FILE and _mode(path) == 0o600
    shown = subprocess.run(
        ["bash", "-c", f'source "{path}" && printf "%s %s" "$ARGILLA_API_URL" "$ALTTRAIN_TEST_KEY"'],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": os.environ["PATH"]},
    ).stdout
    assert shown == f"{argilla_server.url} {argilla_server.credentials.api_key}"


@pytest.mark.parametrize("name", ["A B", "KEY=1", "X; rm -rf ~", "$(id)", "1KEY", ""])
def test_an_api_key_env_that_is_no_shell_variable_is_refused(name: str) -> None:
    with pytest.raises(ReviewConfigError, match="review.api_key_env"):
        check_env_name(name)
