"""scaleout.nodes: the private node-cache folders and the checks on what is harvested from them (no Ray needed)."""

import json
import os
import stat
from collections import Counter
from pathlib import Path

import pytest

from alttrain.errors import ConfigError
from alttrain.llm.cache import CACHE_KEY_VERSION, ResponseCache, keyed_request
from alttrain.llm.types import SamplingParams, TeacherRequest, TeacherResponse
from alttrain.scaleout.config import RayConfig
from alttrain.scaleout.entries import Entry, merge_entries
from alttrain.scaleout.nodes import harvest_node, node_dir

TEACHER = "openai:fault-teacher"
ANSWER = TeacherResponse(text="the teacher's answer", finish_reason="stop")


def entry(prompt: str, teacher: str = TEACHER) -> Entry:
    request = TeacherRequest(messages=[{"role": "user", "content": prompt}], sampling=SamplingParams())
    key, request_json = keyed_request(teacher, request)
    return Entry.of(key, teacher, request_json, ANSWER)


def plant(folder: Path, name: str, entries: list[Entry]) -> None:
    with ResponseCache(folder / name) as cache:
        merge_entries(cache, entries)


def test_the_run_folder_is_created_private_and_a_folder_others_can_reach_is_refused(tmp_path: Path) -> None:
    settings = RayConfig(node_cache_dir=tmp_path / "nodes")
    folder = node_dir(settings, "run1")
    assert folder == tmp_path / "nodes" / "run1" and stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert node_dir(settings, "run1") == folder  # found again: ours, private
    os.chmod(folder, 0o777)  # a folder another user could have planted files in
    with pytest.raises(ConfigError, match=r"run1 has mode 0777 \(other users may reach it\).*neither reads nor"):
        list(harvest_node(settings, "run1", TEACHER))
    (tmp_path / "elsewhere").mkdir(mode=0o700)
    (tmp_path / "nodes" / "run2").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ConfigError, match="run2 is a symbolic link"):
        node_dir(settings, "run2")
    os.chmod(tmp_path / "nodes", 0o777)
    with pytest.raises(ConfigError, match=r"nodes has mode 0777"):
        node_dir(settings, "run3")
    assert not (tmp_path / "nodes" / "run3").exists()


def test_only_entries_whose_key_is_their_requests_hash_for_this_teacher_are_harvested(tmp_path: Path) -> None:
    settings = RayConfig(node_cache_dir=tmp_path / "nodes")
    folder = node_dir(settings, "run")
    genuine, target = entry("a genuine answer"), entry("a prompt of the run")
    other = entry("a prompt of the run", teacher="openai:some-other-model")
    forged = [
        target._replace(teacher="openai:some-other-model", request=""),  # the file: real key, empty request
        other,  # another teacher's answer under its own (true) key
        target._replace(key=f"v{CACHE_KEY_VERSION - 1}-" + target.key.split("-", 1)[1]),  # an older key recipe
        entry("unreadable")._replace(response=json.dumps({"text": 1, "stolen": True})),
    ]
    plant(folder, "node-a.sqlite", [genuine])
    plant(folder, "planted.sqlite", forged)
    plant(folder, "planted-2.sqlite", [other._replace(key=target.key)])  # another teacher's request, this one's key
    pieces = list(harvest_node(settings, "run", TEACHER))
    assert [entry for entries, _ in pieces for entry in entries] == [genuine]
    refused = sum((counts for _, counts in pieces), start=Counter())
    assert refused == {
        "planted.sqlite: a key that is not the hash of its stored request": 1,
        "planted-2.sqlite: a key that is not the hash of its stored request": 1,
        "planted.sqlite: written for teacher 'openai:some-other-model', not 'openai:fault-teacher'": 1,
        f"planted.sqlite: a key of another key version (not v{CACHE_KEY_VERSION}-)": 1,
        "planted.sqlite: a request or response alttrain cannot read": 1,
    }
