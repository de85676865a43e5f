"""Where a capability benchmark's rows come from: a Hub dataset's config, or a local copy of one config."""

from __future__ import annotations

from pathlib import Path


def is_local(dataset: str) -> bool:
    """``dataset`` names a local folder or file rather than a Hub id."""
    return Path(dataset).expanduser().exists()


def config_name(dataset: str, hub_config: str | None) -> str | None:
    """The config to load: ``hub_config`` on the Hub, None for a local copy (it holds that config's files)."""
    return None if is_local(dataset) else hub_config
