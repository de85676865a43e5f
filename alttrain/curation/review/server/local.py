"""Start and stop a local Argilla: Redis and argilla-server on loopback, SQLite, alttrain's SQL search.

Everything lives under one home folder (database, Redis files, logs, generated credentials), so a
second start reuses the reviewer's work. Processes run in their own sessions and are stopped by PID.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from alttrain.curation.review.config import ServerConfig
from alttrain.curation.review.server.venv import ensure_server_venv, server_python
from alttrain.errors import ServerSetupError
from alttrain.processes import ChildServer

PLUGIN_DIR = Path(__file__).parent / "plugin"
PLUGIN_MODULE = "alttrain_sql_search"
SEARCH_ENGINE_NAME = "alttrain_sql"
CREDENTIALS_FILE = "credentials.json"
STOP_GRACE_S = 15.0


@dataclass(frozen=True)
class Credentials:
    """The owner account of a local server (generated once per home folder and username)."""

    username: str
    password: str
    api_key: str


@dataclass
class LocalArgilla:
    """A running local Argilla; :meth:`stop` ends the processes that were started for it."""

    url: str
    credentials: Credentials
    home: Path
    venv_built: bool
    server: ChildServer
    redis: ChildServer
    started_s: float = field(default=0.0)

    @property
    def pids(self) -> tuple[int, int]:
        """Return the PIDs of the server and of Redis."""
        return (self.server.pid, self.redis.pid)

    def stop(self) -> None:
        """Stop the server, then Redis (SIGTERM, then SIGKILL after a grace period)."""
        for process in (self.server, self.redis):
            process.stop(STOP_GRACE_S)

    def wait(self) -> int:
        """Block until the server process ends (Ctrl+C raises KeyboardInterrupt); return its exit code."""
        return self.server.wait()

    def __enter__(self) -> LocalArgilla:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def free_port() -> int:
    """Return a TCP port that is free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_in_use(host: str, port: int) -> bool:
    """Tell whether something already listens on ``host:port``."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def load_credentials(home: Path, username: str) -> tuple[Credentials, str]:
    """Read (or create, mode 0600) the owner credentials and the server's auth secret for ``home``."""
    path = home / CREDENTIALS_FILE
    stored = json.loads(path.read_text()) if path.exists() else {}
    users = stored.setdefault("users", {})
    if username not in users:
        users[username] = {"password": secrets.token_urlsafe(12), "api_key": secrets.token_urlsafe(24)}
    stored.setdefault("auth_secret_key", secrets.token_hex(32))
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(json.dumps(stored, indent=2))
    user = users[username]
    return Credentials(username, user["password"], user["api_key"]), stored["auth_secret_key"]


def _redis_answers(port: int) -> str | None:
    """None when Redis answers PING on ``port``, else why not."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            reply = sock.recv(64)
    except OSError as error:
        return type(error).__name__
    return None if reply.startswith(b"+PONG") else f"answered {reply[:20]!r}"


def _argilla_answers(url: str) -> str | None:
    """None when the server answers ``/api/v1/status`` with alttrain's search engine, else why not.

    Raises:
        ServerSetupError: when something else answers there.

    """
    try:
        status = httpx.get(f"{url}/api/v1/status", timeout=2).json()
    except (httpx.HTTPError, ValueError) as error:
        return type(error).__name__
    engine = status.get("search_engine", {}).get("engine")
    if engine != SEARCH_ENGINE_NAME:
        raise ServerSetupError(f"{url} answers with search engine {engine!r}, not {SEARCH_ENGINE_NAME!r}")
    return None


def _server_env(home: Path, redis_port: int, secret: str, credentials: Credentials) -> dict[str, str]:
    """Environment of the server process: its own home, SQLite, loopback Redis, the SQL search engine."""
    inherited = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"}}
    return {
        **inherited,
        "PYTHONPATH": str(PLUGIN_DIR),
        "ARGILLA_HOME_PATH": str(home),
        "ARGILLA_DATABASE_URL": f"sqlite+aiosqlite:///{home / 'argilla.db'}?check_same_thread=False",
        "ARGILLA_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "ARGILLA_AUTH_SECRET_KEY": secret,
        "ARGILLA_SEARCH_ENGINE": SEARCH_ENGINE_NAME,
        "ARGILLA_ENABLE_TELEMETRY": "0",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_OFFLINE": "1",
        "ALTTRAIN_OWNER_USERNAME": credentials.username,
        "ALTTRAIN_OWNER_PASSWORD": credentials.password,
        "ALTTRAIN_OWNER_API_KEY": credentials.api_key,
    }


def start_local_argilla(config: ServerConfig, on_step: Callable[[str], None] | None = None) -> LocalArgilla:
    """Build or reuse the server venv, start Redis and argilla-server, and wait until both answer.

    Raises:
        ServerSetupError: when ``redis-server`` is missing, the port is taken, or a process fails.

    """
    say = on_step or (lambda _message: None)
    redis_binary = shutil.which("redis-server")
    if redis_binary is None:
        raise ServerSetupError(
            "redis-server is not on PATH: install it with `apt-get install redis-server` "
            "(only the binary is needed; alttrain starts its own instance on 127.0.0.1)"
        )
    if _port_in_use(config.host, config.port):
        raise ServerSetupError(f"port {config.port} on {config.host} is in use: set review.server.port")
    started = time.monotonic()
    venv = config.venv_path()
    built = ensure_server_venv(venv, say)
    home = config.home.expanduser()
    (home / "redis").mkdir(parents=True, exist_ok=True)
    (home / "logs").mkdir(parents=True, exist_ok=True)
    credentials, secret = load_credentials(home, config.username)
    redis_port = config.redis_port or free_port()
    deadline = time.monotonic() + config.start_timeout_s

    redis_log = home / "logs" / "redis.log"
    say(f"starting redis-server on 127.0.0.1:{redis_port}")
    redis_args = ["--bind", "127.0.0.1", "--port", str(redis_port), "--dir", str(home / "redis")]
    redis_args += ["--save", "", "--appendonly", "no", "--logfile", str(redis_log)]
    redis = ChildServer([redis_binary, *redis_args], stdout=subprocess.DEVNULL, new_session=True)
    try:
        why = redis.wait_ready(lambda: _redis_answers(redis_port), deadline)
        if why is not None:
            raise ServerSetupError(f"redis-server on 127.0.0.1:{redis_port}: {why}; see {redis_log}")
        url = f"http://{'[::1]' if config.host == '::1' else config.host}:{config.port}"
        server_log = home / "logs" / "server.log"
        say(f"starting argilla-server on {url} (migrations, owner, server)")
        command = [str(server_python(venv)), "-m", PLUGIN_MODULE, "local"]
        command += ["--host", config.host, "--port", str(config.port), "--no-access-log"]
        with open(server_log, "ab") as log:
            server = ChildServer(
                command,
                env=_server_env(home, redis_port, secret, credentials),
                stdout=log,
                stderr=subprocess.STDOUT,
                new_session=True,
            )
        try:
            why = server.wait_ready(lambda: _argilla_answers(url), deadline)
            if why is not None:
                raise ServerSetupError(f"argilla-server on {url}: {why}; see {server_log}")
        except BaseException:
            server.stop(STOP_GRACE_S)
            raise
    except BaseException:
        redis.stop(STOP_GRACE_S)
        raise
    return LocalArgilla(url, credentials, home, built, server, redis, time.monotonic() - started)
