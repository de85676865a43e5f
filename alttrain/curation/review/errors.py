"""Errors of the review round-trip (a light module: the CLI imports it without importing argilla)."""

from __future__ import annotations


class ReviewError(RuntimeError):
    """A review round-trip that cannot go on (server unreachable, dataset mismatch, policy); nothing written."""


class ReviewDataError(ValueError):
    """Curated rows that cannot be sent for review; the message names the ids."""
