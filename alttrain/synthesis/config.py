"""Config of the ``synthesize`` stage (the synthesis engine fills this in)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class SynthesisConfig(BaseModel):
    """The ``synthesis`` section of a run config."""

    model_config = ConfigDict(extra="forbid")
