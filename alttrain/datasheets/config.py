"""Config of the ``datasheet`` stage: pricing, Hub export, maintainers and a license override.

A Hub token is never stored here: ``hub_token_env`` names the environment variable that holds it.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, model_validator

from alttrain.models.source import DEFAULT_MODEL_CACHE, EMBEDDED_MODEL


class DistributionGapConfig(BaseModel):
    """The base model's mean per-token NLL of the traces (:mod:`alttrain.models.nll`): this dataset and variants.

    ``model``, ``model_cache_dir`` and ``chat_template`` default to training's (resolved at load). ``variants``
    names other datasets of the same prompts (another run's ``synthesized.parquet``, ``curated.parquet`` or
    ``dataset/train.parquet``: rows with ``prompt`` and ``trace``; ``ok`` rows only where there is a ``status``),
    e.g. ``{teacher: runs/teacher/dataset/train.parquet}``, reported beside this run's dataset.
    """

    model_config = ConfigDict(extra="forbid")

    model: str = EMBEDDED_MODEL
    model_cache_dir: Path = DEFAULT_MODEL_CACHE
    chat_template: str = "auto"
    variants: dict[str, Path] = Field(default_factory=dict)
    batch_size: PositiveInt = 8
    max_length: PositiveInt = 2048


class DatasheetConfig(BaseModel):
    """The ``datasheet`` section of a run config."""

    model_config = ConfigDict(extra="forbid")

    pretty_name: str | None = None  # default: "alttrain <run name>"
    language: list[str] = Field(default_factory=lambda: ["en"])
    price_per_million_input_tokens: float | None = Field(default=None, ge=0.0)
    price_per_million_output_tokens: float | None = Field(default=None, ge=0.0)
    currency: str = "USD"
    maintainer: str | None = None  # null: the datasheet asks a human
    contact: str | None = None  # null: the datasheet asks a human
    license: str | None = None  # overrides the license derived from the sources (an SPDX id)
    push_to_hub: bool = False  # nothing is pushed unless this is true
    hub_repo_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
    hub_token_env: str = "HF_TOKEN"
    hub_private: bool = True
    # the distribution gap: the base model's NLL of the traces (loads the model on CPU); None: not measured
    distribution_gap: DistributionGapConfig | None = Field(default=None, exclude_if=lambda gap: gap is None)

    @model_validator(mode="after")
    def _push_needs_repo(self) -> DatasheetConfig:
        """Pushing needs a repository id."""
        if self.push_to_hub and not self.hub_repo_id:
            raise ValueError("push_to_hub needs hub_repo_id")
        return self

    @property
    def priced(self) -> bool:
        """Whether both token prices are set, so a cost can be computed."""
        prices = (self.price_per_million_input_tokens, self.price_per_million_output_tokens)
        return all(price is not None for price in prices)

    def hub_token(self) -> str | None:
        """Read the Hub token from the environment (it is never persisted)."""
        return os.environ.get(self.hub_token_env)
