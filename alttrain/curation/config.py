"""Config of the ``curate`` stage (the curation stage fills this in)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class CurationConfig(BaseModel):
    """The ``curation`` section of a run config."""

    model_config = ConfigDict(extra="forbid")
