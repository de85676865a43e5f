"""Config of the ``review`` stage: where Argilla is, how records are reviewed, and the local server.

The API key is never stored here: ``api_key_env`` names the environment variable that holds it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from alttrain.errors import ReviewConfigError

DEFAULT_API_URL = "http://127.0.0.1:6900"
API_URL_ENV = "ARGILLA_API_URL"
SERVER_VENV_ENV = "ALTTRAIN_ARGILLA_VENV"
DEFAULT_SERVER_VENV = Path("~/.cache/alttrain/argilla-server")
DEFAULT_SERVER_HOME = Path("~/.cache/alttrain/argilla-home")

UnreviewedPolicy = Literal["keep", "drop", "fail"]


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


class ReviewConfig(BaseModel):
    """The ``review`` section of a run config."""

    model_config = ConfigDict(extra="forbid")

    api_url: str | None = None  # default: $ARGILLA_API_URL, else http://127.0.0.1:6900
    api_key_env: str = "ARGILLA_API_KEY"
    workspace: str = Field(default="alttrain", min_length=1)
    dataset: str | None = None  # default: <run name>-review
    unreviewed: UnreviewedPolicy = "fail"  # records without enough submitted reviews at pull time
    min_reviewers: int = Field(default=1, ge=1)  # submitted reviews a record needs (Argilla's min_submitted)
    batch_size: int = Field(default=256, ge=1, le=500)  # Argilla upserts at most 500 records per request
    timeout_s: int = Field(default=60, ge=1)
    server: ServerConfig = Field(default_factory=ServerConfig)

    def resolved_api_url(self) -> str:
        """The configured URL, else ``$ARGILLA_API_URL``, else the local default."""
        return self.api_url or os.environ.get(API_URL_ENV) or DEFAULT_API_URL

    def api_key(self) -> str:
        """The API key from the environment (never persisted).

        Raises:
            ReviewConfigError: when the variable is unset or empty.

        """
        key = os.environ.get(self.api_key_env)
        if not key:
            raise ReviewConfigError(
                f"no Argilla API key: set the environment variable {self.api_key_env} "
                "(review.api_key_env names it; for a local server, `source` the push-pull.env that "
                "`alttrain review serve` writes)"
            )
        return key

    def dataset_name(self, run_name: str) -> str:
        """The Argilla dataset of this run."""
        return self.dataset or f"{run_name}-review"
