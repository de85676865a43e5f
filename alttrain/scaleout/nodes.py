"""The actors' node-local caches: where they live, and the driver's look at every node's (harvest, clean-up).

Each node keeps one SQLite file per Ray node id under ``<node_cache_dir>/<run tag>/``, written by the
actors on it (one host per file, so WAL works). The run tag is a hash of the run cache's path: every
run has its own folder. A run that ends writes nothing back it has not merged and deletes its folders;
a run that was killed leaves them, and the next run harvests them into the run's cache before it sends
anything, so answers the killed run received are not asked for again.

The folders are private: the default base is ``<tmp>/alttrain-ray-<uid>``, both it and the run's folder are
created with mode 0700, and one found in place is used only when this user owns it, it is a real folder
(not a link) and no other user may write it (nor, for the run's folder, read it). Anything else stops the
run before a node cache is read or written. A harvested entry is merged only when it checks out
(:func:`~alttrain.scaleout.entries.entry_problem`); the others are counted per file and reason, never merged.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
from collections import Counter
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alttrain.errors import ConfigError
from alttrain.llm.cache import ResponseCache
from alttrain.scaleout.config import RayConfig
from alttrain.scaleout.entries import Entry, entry_chunks, entry_problem, merge_entries

NODE_DIR_NAME = "alttrain-ray"  # + "-<uid>", under the node's temporary folder, when node_cache_dir is unset
DRILL_MARKER = "drill-crashed"  # the fault drill has crashed an actor of this run
HARVEST_CHUNK = 5_000  # entries per piece a node sends back (a node's file never travels whole)
PRIVATE_MODE = 0o700  # what the folders are created with
#: permission bits other users must not have: on the base folder (write), on the run's folder (any)
BASE_FORBIDDEN, RUN_FORBIDDEN = 0o022, 0o077


def run_tag(cache_path: Path) -> str:
    """The run's folder name on every node: 16 hex characters of the run cache's absolute path."""
    return hashlib.sha256(str(cache_path.resolve()).encode()).hexdigest()[:16]


def _private_folder(path: Path, forbidden: int) -> Path:
    """``path``, created with mode 0700 when missing, else checked to be this user's folder closed to others.

    Raises:
        ConfigError: ``path`` is a link, not a folder, another user's, or open to others beyond ``forbidden``.

    """
    try:
        path.mkdir(mode=PRIVATE_MODE)
        return path
    except FileExistsError:
        pass
    found = path.lstat()
    problem = (
        "is a symbolic link" if stat.S_ISLNK(found.st_mode) else
        "is not a folder" if not stat.S_ISDIR(found.st_mode) else
        f"belongs to uid {found.st_uid}, not this user ({os.getuid()})" if found.st_uid != os.getuid() else
        f"has mode {stat.S_IMODE(found.st_mode):04o} (other users may reach it)" if found.st_mode & forbidden else
        None
    )  # fmt: skip
    if problem is not None:
        raise ConfigError(f"node cache folder {path} {problem}: alttrain neither reads nor writes it (its answers "
                          "could be forged or read); remove it, or set executor.node_cache_dir to a folder of your own")
    return path


def node_dir(settings: RayConfig, tag: str) -> Path:
    """The run's private folder on the node this runs on (created when missing, checked when found).

    Raises:
        ConfigError: the folder or its base is not this user's private folder (see the module docstring).

    """
    if settings.node_cache_dir is not None:
        base = settings.node_cache_dir.expanduser()
        base.mkdir(mode=PRIVATE_MODE, parents=True, exist_ok=True)
    else:
        base = Path(tempfile.gettempdir()) / f"{NODE_DIR_NAME}-{os.getuid()}"
    return _private_folder(_private_folder(base, BASE_FORBIDDEN) / tag, RUN_FORBIDDEN)


def harvest_node(settings: RayConfig, tag: str, teacher: str) -> Iterator[tuple[list[Entry], Counter[str]]]:
    """The run's entries on this node (left by a killed run), ``HARVEST_CHUNK`` at a time, with what was refused.

    Each piece is the entries that check out for ``teacher`` and a count of the others by ``file: reason``.
    """
    for path in sorted(node_dir(settings, tag).glob("*.sqlite")):
        for chunk in entry_chunks(path, size=HARVEST_CHUNK):
            problems = [(entry, entry_problem(entry, teacher)) for entry in chunk]
            refused = Counter(f"{path.name}: {problem}" for _, problem in problems if problem is not None)
            yield [entry for entry, problem in problems if problem is None], refused


def clean_node(settings: RayConfig, tag: str) -> None:
    """Delete the run's folder on this node."""
    shutil.rmtree(node_dir(settings, tag), ignore_errors=True)


def harvest(settings: RayConfig, tag: str, cache: ResponseCache, teacher: str) -> tuple[int, Counter[str]]:
    """Merge what every alive node holds for the run into ``cache``, chunk by chunk, checking each entry.

    The driver's own node is read in this process, every other one by a zero-CPU task pinned to it.

    Returns:
        The new entries merged, and the entries refused by ``node: file: reason``.

    Raises:
        ConfigError: a node's folder for the run is not this user's private folder.

    """
    import ray

    task = ray.remote(num_cpus=0, num_returns="streaming")(harvest_node)
    merged, refused = 0, Counter[str]()
    # every other node starts reading (and checking) at once, this one in this process (no worker to start);
    # a node's pieces are merged as they come
    here = _this_node()
    streams: list[tuple[str, Iterator[tuple[list[Entry], Counter[str]]]]] = [
        (node, map(fetch, task.options(scheduling_strategy=where).remote(settings, tag, teacher)))
        for node, where in _every_node() if node != here
    ]  # fmt: skip
    if here is not None:
        streams.insert(0, (here, harvest_node(settings, tag, teacher)))
    for node, stream in streams:
        for entries, problems in stream:
            merged += merge_entries(cache, entries)
            refused.update({f"node {node[:12]} {what}": count for what, count in problems.items()})
    return merged, refused


@contextmanager
def _config_errors_as_themselves() -> Iterator[None]:
    """Raise a :class:`ConfigError` that a task or actor call raised as itself, not wrapped in Ray's error."""
    import ray

    try:
        yield
    except ray.exceptions.RayTaskError as error:
        if isinstance(error.cause, ConfigError):
            raise error.cause from None
        raise


def fetch(reference: Any) -> Any:
    """``ray.get`` of a task's or actor call's result; a :class:`ConfigError` raised there is raised here as itself."""
    import ray

    with _config_errors_as_themselves():
        return ray.get(reference)


async def fetched(reference: Any) -> Any:
    """:func:`fetch` on an event loop: the result awaited."""
    with _config_errors_as_themselves():
        return await reference


def clean(settings: RayConfig, tag: str, cleaned: Collection[str] = ()) -> None:
    """Delete the run's folder on every alive node but those in ``cleaned`` (node ids whose actors deleted it)."""
    import ray

    task = ray.remote(num_cpus=0)(clean_node)
    here = _this_node()
    done = [task.options(scheduling_strategy=where).remote(settings, tag)
            for node, where in _every_node() if node not in cleaned and node != here]  # fmt: skip
    if here is not None and here not in cleaned:
        clean_node(settings, tag)
    ray.get(done)


def _this_node() -> str | None:
    """The cluster node this process runs on (its disk is that node's), or None on a Ray Client's machine."""
    import ray
    from ray.util.client import ray as client

    return None if client.is_connected() else ray.get_runtime_context().get_node_id()


def _every_node() -> list[tuple[str, Any]]:
    """Each alive node of the connected cluster: its id, and a scheduling strategy pinning a task there."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    return [(node["NodeID"], NodeAffinitySchedulingStrategy(node["NodeID"], soft=False))
            for node in ray.nodes() if node["Alive"]]  # fmt: skip
