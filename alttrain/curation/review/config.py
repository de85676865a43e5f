"""Config of the ``review`` stage: where Argilla is, how records are reviewed, and the local server.

The local server's settings live with the server (:mod:`alttrain.services.argilla.config`). The API key is
never stored here: ``api_key_env`` names the environment variable that holds it.
"""

from __future__ import annotations

import os
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from alttrain.errors import ReviewConfigError
from alttrain.services.argilla.config import ServerConfig

DEFAULT_API_URL = "http://127.0.0.1:6900"
API_URL_ENV = "ARGILLA_API_URL"

UnreviewedPolicy = Literal["keep", "drop", "fail"]


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
