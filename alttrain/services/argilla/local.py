"""Start and stop a local Argilla: Redis and argilla-server on loopback, SQLite, alttrain's SQL search.

Everything lives under one home folder (database, Redis files, logs, generated credentials), so a
second start reuses the reviewer's work. Processes run in their own sessions and are stopped by PID.

Secrets never reach a terminal, a command line or another user: the home folder is 0700, the
credentials (owner password and API key, the server's auth secret, Redis's password) and the files
made from them are created 0600 before anything is written into them, Redis reads its password from
such a file rather than from argv, and the children get an allow-listed environment, not the caller's
(which may hold OpenAI or Hugging Face tokens).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from alttrain.errors import ReviewConfigError, ServerSetupError
from alttrain.processes import ChildServer
from alttrain.services.argilla.config import ServerConfig
from alttrain.services.argilla.venv import ensure_server_venv, server_python

PLUGIN_DIR = Path(__file__).parent / "plugin"
PLUGIN_MODULE = "alttrain_sql_search"
SEARCH_ENGINE_NAME = "alttrain_sql"
CREDENTIALS_FILE = "credentials.json"
ENV_FILE = "push-pull.env"  # ``source`` it to point push/pull at the local server
REDIS_CONFIG_FILE = "redis.conf"
#: what the children inherit from the caller's environment (everything else, API tokens included, stays out)
INHERITED_ENV = frozenset({"PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "TMP", "TEMP"})
INHERITED_ENV_PREFIXES = ("LC_",)
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
STOP_GRACE_S = 15.0


@dataclass(frozen=True)
class Credentials:
    """The owner account of a local server (generated once per home folder and username)."""

    username: str
    password: str
    api_key: str

    def __repr__(self) -> str:
        """Name the user, never the secrets (a traceback or a debug print shows this)."""
        return f"Credentials(username={self.username!r}, password=***, api_key=***)"


@dataclass(frozen=True)
class ServerSecrets:
    """The secrets of one home folder besides the owner's: the server's auth secret and Redis's password."""

    auth_secret_key: str
    redis_password: str

    def __repr__(self) -> str:
        return "ServerSecrets(***)"


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
    redis_port: int = 0

    @property
    def credentials_path(self) -> Path:
        """The 0600 file with the owner's password and API key (and the server's secrets)."""
        return self.home / CREDENTIALS_FILE

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


def _private_home(home: Path) -> Path:
    """Create ``home`` (and its parents) and make it 0700: only its owner may list or enter it."""
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    home.chmod(0o700)
    return home


def write_private(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in a file that is 0600 from its creation on (never readable by others).

    The text goes into a new file opened with ``O_EXCL`` and mode 0600 next to ``path``, which then
    replaces ``path`` in one rename: no moment exists where the secret sits in a wider-mode file.
    """
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as handle:
            os.fchmod(handle.fileno(), 0o600)  # a umask can only narrow the mode, but be explicit
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def load_secrets(home: Path, username: str) -> tuple[Credentials, ServerSecrets]:
    """Read (or create) every secret of ``home``: the owner's, the server's auth secret, Redis's password.

    They are generated once and kept in ``home/credentials.json`` (0600, in a 0700 home), so a restart
    reuses the reviewer's account, sessions and Redis password.
    """
    path = _private_home(home) / CREDENTIALS_FILE
    stored = json.loads(path.read_text()) if path.exists() else {}
    before = json.dumps(stored, sort_keys=True)
    users = stored.setdefault("users", {})
    if username not in users:
        users[username] = {"password": secrets.token_urlsafe(12), "api_key": secrets.token_urlsafe(24)}
    stored.setdefault("auth_secret_key", secrets.token_hex(32))
    stored.setdefault("redis_password", secrets.token_urlsafe(24))
    if json.dumps(stored, sort_keys=True) != before or not path.exists():
        write_private(path, json.dumps(stored, indent=2))
    path.chmod(0o600)  # a file from an older alttrain (or copied in) is narrowed too
    user = users[username]
    server_secrets = ServerSecrets(stored["auth_secret_key"], stored["redis_password"])
    return Credentials(username, user["password"], user["api_key"]), server_secrets


def check_env_name(api_key_env: str) -> None:
    """Refuse an ``api_key_env`` that cannot be written as a shell variable (it goes into an ``export`` line).

    Raises:
        ReviewConfigError: when it is not a shell variable name.

    """
    if not _ENV_NAME_RE.match(api_key_env):
        raise ReviewConfigError(
            f"review.api_key_env {api_key_env!r} is not an environment variable name "
            "(letters, digits and underscores, not starting with a digit)"
        )


def write_env_file(server: LocalArgilla, api_key_env: str) -> Path:
    """Write ``home/push-pull.env`` (0600): the ``export`` line that points push/pull at ``server``.

    ``source`` it in a shell; the key stays in the file, out of the terminal and its scrollback.

    Raises:
        ReviewConfigError: when ``api_key_env`` is not a shell variable name.

    """
    check_env_name(api_key_env)
    path = server.home / ENV_FILE
    values = {"ARGILLA_API_URL": server.url, api_key_env: server.credentials.api_key}
    exports = " ".join(f"{name}={shlex.quote(value)}" for name, value in values.items())
    write_private(
        path, f"# written by `alttrain review serve`; load it with: source {shlex.quote(str(path))}\nexport {exports}\n"
    )
    return path


def _resp(*words: str) -> bytes:
    """One Redis command in RESP (safe for any bytes in its arguments)."""
    encoded = [word.encode() for word in words]
    return f"*{len(encoded)}\r\n".encode() + b"".join(b"$%d\r\n%s\r\n" % (len(w), w) for w in encoded)


def _redis_answers(port: int, password: str) -> str | None:
    """None when Redis accepts ``password`` and answers PING on ``port``, else why not."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(_resp("AUTH", password) + _resp("PING"))
            reply = b""
            while reply.count(b"\r\n") < 2:
                chunk = sock.recv(256)
                if not chunk:
                    break
                reply += chunk
    except OSError as error:
        return type(error).__name__
    return None if reply.startswith(b"+OK\r\n+PONG") else f"answered {reply[:40]!r}"


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


def _base_env() -> dict[str, str]:
    """The part of the caller's environment that a child may see: paths, locale, temp dir; no tokens."""
    return {
        name: value
        for name, value in os.environ.items()
        if name in INHERITED_ENV or name.startswith(INHERITED_ENV_PREFIXES)
    }


def _server_env(home: Path, redis_port: int, server_secrets: ServerSecrets, credentials: Credentials) -> dict[str, str]:
    """Environment of the server process: its own home, SQLite, loopback Redis, the SQL search engine.

    Built from an allow-list (:data:`INHERITED_ENV`): the caller's other variables (OpenAI or Hugging
    Face tokens, cloud credentials, ``PYTHONPATH``) never reach argilla-server.
    """
    redis_url = f"redis://:{server_secrets.redis_password}@127.0.0.1:{redis_port}/0"
    return {
        **_base_env(),
        "PYTHONPATH": str(PLUGIN_DIR),
        "ARGILLA_HOME_PATH": str(home),
        "ARGILLA_DATABASE_URL": f"sqlite+aiosqlite:///{home / 'argilla.db'}?check_same_thread=False",
        "ARGILLA_REDIS_URL": redis_url,
        "ARGILLA_AUTH_SECRET_KEY": server_secrets.auth_secret_key,
        "ARGILLA_SEARCH_ENGINE": SEARCH_ENGINE_NAME,
        "ARGILLA_ENABLE_TELEMETRY": "0",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_OFFLINE": "1",
        "ALTTRAIN_OWNER_USERNAME": credentials.username,
        "ALTTRAIN_OWNER_PASSWORD": credentials.password,
        "ALTTRAIN_OWNER_API_KEY": credentials.api_key,
    }


def _redis_quoted(text: str) -> str:
    """A string argument of a Redis config line, double-quoted with Redis's escapes."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'


def _redis_config(home: Path, port: int, password: str) -> Path:
    """Write Redis's config (0600; it holds the password, which must not show in a process listing)."""
    path = home / "redis" / REDIS_CONFIG_FILE
    lines = [
        "bind 127.0.0.1",
        f"port {port}",
        f"dir {_redis_quoted(str(home / 'redis'))}",
        'save ""',
        "appendonly no",
        f"logfile {_redis_quoted(str(home / 'logs' / 'redis.log'))}",
        f"requirepass {_redis_quoted(password)}",
    ]
    write_private(path, "\n".join(lines) + "\n")
    return path


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
    home = _private_home(config.home.expanduser())
    (home / "redis").mkdir(mode=0o700, exist_ok=True)
    (home / "logs").mkdir(mode=0o700, exist_ok=True)
    credentials, server_secrets = load_secrets(home, config.username)
    redis_port = config.redis_port or free_port()
    deadline = time.monotonic() + config.start_timeout_s

    redis_log = home / "logs" / "redis.log"
    say(f"starting redis-server on 127.0.0.1:{redis_port}")
    redis_config = _redis_config(home, redis_port, server_secrets.redis_password)
    redis = ChildServer([redis_binary, str(redis_config)], env=_base_env(), stdout=subprocess.DEVNULL, new_session=True)
    try:
        why = redis.wait_ready(lambda: _redis_answers(redis_port, server_secrets.redis_password), deadline)
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
                env=_server_env(home, redis_port, server_secrets, credentials),
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
    return LocalArgilla(url, credentials, home, built, server, redis, time.monotonic() - started, redis_port)
