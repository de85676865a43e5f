"""The actors' node-local caches: where they live, and the driver's look at every node's (harvest, clean-up).

Each node keeps one SQLite file per Ray node id under ``<node_cache_dir>/<run tag>/``, written by the
actors on it (one host per file, so WAL works). The run tag is a hash of the run cache's path: every
run has its own folder. A run that ends writes nothing back it has not merged and deletes its folders;
a run that was killed leaves them, and the next run harvests them into the run's cache before it sends
anything, so answers the killed run received are not asked for again.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alttrain.llm.cache import ResponseCache
from alttrain.scaleout.config import RayConfig
from alttrain.scaleout.entries import Entry, entry_chunks, merge_entries

NODE_DIR_NAME = "alttrain-ray"  # under the node's temporary folder, when node_cache_dir is unset
DRILL_MARKER = "drill-crashed"  # the fault drill has crashed an actor of this run
HARVEST_CHUNK = 5_000  # entries per piece a node sends back (a node's file never travels whole)


def run_tag(cache_path: Path) -> str:
    """The run's folder name on every node: 16 hex characters of the run cache's absolute path."""
    return hashlib.sha256(str(cache_path.resolve()).encode()).hexdigest()[:16]


def node_dir(settings: RayConfig, tag: str) -> Path:
    """The run's folder on the node this runs on (created when missing)."""
    base = settings.node_cache_dir or Path(tempfile.gettempdir()) / NODE_DIR_NAME
    folder = base.expanduser() / tag
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def harvest_node(settings: RayConfig, tag: str) -> Iterator[list[Entry]]:
    """Every entry of the run's cache files on this node (left by a killed run), ``HARVEST_CHUNK`` at a time."""
    for path in sorted(node_dir(settings, tag).glob("*.sqlite")):
        yield from entry_chunks(path, size=HARVEST_CHUNK)


def clean_node(settings: RayConfig, tag: str) -> None:
    """Delete the run's folder on this node."""
    shutil.rmtree(node_dir(settings, tag), ignore_errors=True)


def harvest(settings: RayConfig, tag: str, cache: ResponseCache) -> int:
    """Merge what every alive node holds for the run into ``cache``, streamed chunk by chunk; return the new entries."""
    import ray

    task = ray.remote(num_cpus=0, num_returns="streaming")(harvest_node)
    merged = 0
    for chunks in [task.options(scheduling_strategy=where).remote(settings, tag) for where in _every_node()]:
        for chunk in chunks:
            merged += merge_entries(cache, ray.get(chunk))
    return merged


def clean(settings: RayConfig, tag: str) -> None:
    """Delete the run's folder on every alive node."""
    import ray

    task = ray.remote(num_cpus=0)(clean_node)
    ray.get([task.options(scheduling_strategy=where).remote(settings, tag) for where in _every_node()])


def _every_node() -> list[Any]:
    """A scheduling strategy per alive node of the connected cluster, pinning a task there."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    return [NodeAffinitySchedulingStrategy(node["NodeID"], soft=False) for node in ray.nodes() if node["Alive"]]
