"""Node-cache harvest: seconds for ``harvest`` to check and merge N entries a killed run left on each node.

Plants N genuine entries (keys hashed from their requests, one teacher) in the run's node folder, starts a
cluster of ``--nodes`` Ray nodes on this machine (``ray.cluster_utils.Cluster``, loopback; they share the
folder, so each node reads the same file), and times :func:`alttrain.scaleout.nodes.harvest` into a fresh
run cache: the first call on cold nodes (as a resumed run pays it: a worker starts on every node), then warm
calls. Also times the per-node work alone (``harvest_node``: read + check, no Ray), per entry.

    .venv/bin/python bench/node_harvest.py [--entries 50] [--nodes 2] [--repeats 3]
"""

from __future__ import annotations

import os

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # the nodes on loopback only

import argparse
import json
import logging
import tempfile
import time
from pathlib import Path

import ray
from ray.cluster_utils import Cluster

from alttrain.llm.cache import ResponseCache, keyed_request
from alttrain.llm.types import SamplingParams, TeacherRequest, TeacherResponse
from alttrain.scaleout.config import RayConfig
from alttrain.scaleout.entries import Entry, merge_entries
from alttrain.scaleout.nodes import harvest, harvest_node, node_dir

TEACHER = "openai:bench-teacher"


def genuine_entries(count: int) -> list[Entry]:
    """``count`` entries as an actor stores them: ~0.5 KB requests, ~0.5 KB answers."""
    answer = TeacherResponse(text="the teacher's answer " * 20, finish_reason="stop")
    entries = []
    for i in range(count):
        request = TeacherRequest(messages=[{"role": "user", "content": f"prompt {i} " * 30}], sampling=SamplingParams())
        key, request_json = keyed_request(TEACHER, request)
        entries.append(Entry(key, TEACHER, request_json, json.dumps(vars(answer))))
    return entries


def node_seconds(settings: RayConfig, tag: str) -> float:
    """Seconds for one node's work alone (read every entry, check it), in this process."""
    begun = time.perf_counter()
    for _ in harvest_node(settings, tag, TEACHER):
        pass
    return time.perf_counter() - begun


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=50)
    parser.add_argument("--nodes", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    arguments = parser.parse_args()
    entries = genuine_entries(arguments.entries)
    with tempfile.TemporaryDirectory() as folder:
        settings = RayConfig(node_cache_dir=Path(folder) / "nodes")
        started = time.perf_counter()
        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
        for _ in range(arguments.nodes - 1):
            cluster.add_node(num_cpus=1)
        ray.init(address=cluster.address, logging_level=logging.WARNING, log_to_driver=False)
        print(f"{arguments.nodes} nodes up (not counted): {time.perf_counter() - started:.1f} s")
        for repeat in range(arguments.repeats):
            tag = f"run{repeat}"
            with ResponseCache(node_dir(settings, tag) / "node.sqlite") as planted:
                merge_entries(planted, entries)
            if repeat == 0:
                best = min(node_seconds(settings, tag) for _ in range(5))
                print(f"harvest_node alone: {best:.4f} s ({best / len(entries) * 1e6:.1f} us/entry)")
            with ResponseCache(Path(folder) / f"{tag}.sqlite") as cache:
                begun = time.perf_counter()
                merged, refused = harvest(settings, tag, cache, TEACHER)
                seconds = time.perf_counter() - begun
            print(f"harvest[{'cold' if repeat == 0 else 'warm'}] {len(entries)} entries x {arguments.nodes} nodes: "
                  f"{seconds:.3f} s ({merged} merged, {sum(refused.values())} refused)")
        ray.shutdown()
        cluster.shutdown()


if __name__ == "__main__":
    main()
