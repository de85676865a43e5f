"""Which commit of a Hugging Face Hub dataset a run read, so a rerun can ask for exactly that data.

A Hub id resolves its ``revision`` (a branch or tag; None: the default branch) to the commit it names now,
through ``huggingface_hub.snapshot_download`` (one API call and the dataset card online; the cache's
``refs/`` offline): the caller then loads that commit, not whatever the branch moves to meanwhile. A
local folder inside a Hub cache snapshot (``.../snapshots/<commit>/``) is that commit; any other local
folder has none.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl

COMMIT = re.compile(r"[0-9a-f]{40}")
METADATA_KEY = "alttrain.hub_commits"  # in a stage file's parquet metadata: JSON {source or benchmark: commit}


def hub_commit(dataset: str, revision: str | None) -> str | None:
    """The commit ``revision`` of Hub dataset ``dataset`` names (None: a local folder outside a Hub snapshot).

    Raises:
        Exception: what ``huggingface_hub`` raises when the Hub is unreachable and the cache holds no ref
            for ``revision`` (callers name the dataset and wrap it in their own error).

    """
    folder = Path(dataset).expanduser()
    if folder.exists():
        return snapshot_commit(folder)
    if revision is not None and COMMIT.fullmatch(revision):
        return revision
    from huggingface_hub import snapshot_download

    snapshot = snapshot_download(dataset, repo_type="dataset", revision=revision, allow_patterns=["README.md"])
    return Path(snapshot).name


def snapshot_commit(folder: Path) -> str | None:
    """The commit of the Hub cache snapshot ``folder`` lies in (``.../snapshots/<commit>/...``), or None."""
    parts = folder.resolve().parts
    pairs = zip(parts, parts[1:], strict=False)
    return next((name for parent, name in pairs if parent == "snapshots" and COMMIT.fullmatch(name)), None)


def commits_metadata(commits: dict[str, str]) -> dict[str, str]:
    """The parquet metadata that records ``commits`` (name -> commit)."""
    return {METADATA_KEY: json.dumps(commits, sort_keys=True)}


def recorded_commits(path: Path) -> dict[str, str]:
    """The Hub commits a stage file records (empty: none, or a file written before they were recorded)."""
    return json.loads(pl.read_parquet_metadata(path).get(METADATA_KEY, "{}"))
