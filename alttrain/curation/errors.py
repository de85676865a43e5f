"""The user-facing error of the curate stage."""

from __future__ import annotations


class CurationError(ValueError):
    """A curation input or setting that cannot be used; the message says which and why."""
