"""Settings of a local Argilla server (a run config's ``review.server``): its venv, home folder and ports."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SERVER_VENV_ENV = "ALTTRAIN_ARGILLA_VENV"
DEFAULT_SERVER_VENV = Path("~/.cache/alttrain/argilla-server")
DEFAULT_SERVER_HOME = Path("~/.cache/alttrain/argilla-home")


class ServerConfig(BaseModel):
    """``alttrain review serve``: a local Argilla for one reviewer, on loopback only."""

    model_config = ConfigDict(extra="forbid")

    venv: Path | None = None  # default: $ALTTRAIN_ARGILLA_VENV, else ~/.cache/alttrain/argilla-server
    home: Path = DEFAULT_SERVER_HOME  # database, Redis files, generated credentials
    host: Literal["127.0.0.1", "localhost", "::1"] = "127.0.0.1"
    port: int = Field(default=6900, ge=1, le=65535)
    redis_port: int | None = Field(default=None, ge=1, le=65535)  # null: a free port
    username: str = Field(default="alttrain", min_length=1)
    start_timeout_s: float = Field(default=180.0, gt=0.0)

    def venv_path(self) -> Path:
        """The server venv: the configured one, else ``$ALTTRAIN_ARGILLA_VENV``, else the default."""
        if self.venv is not None:
            return self.venv.expanduser()
        return Path(os.environ.get(SERVER_VENV_ENV) or DEFAULT_SERVER_VENV).expanduser()
