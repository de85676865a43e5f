"""hub_revision: a Hub revision resolved to its commit by the real huggingface_hub, offline, from a Hub cache folder."""

import json
import os
import subprocess
import sys
from pathlib import Path

MAIN = "0123456789abcdef0123456789abcdef01234567"
TAGGED = "89abcdef0123456789abcdef0123456789abcdef"

RESOLVE = """
import json, sys
from alttrain.hub_revision import hub_commit
answers = {}
for revision in (None, "v1", sys.argv[1]):
    answers[str(revision)] = hub_commit("org/name", revision)
try:
    hub_commit("org/never-downloaded", None)
except Exception as error:
    answers["missing"] = type(error).__name__
print(json.dumps(answers))
"""


def test_a_branch_or_tag_resolves_through_the_caches_refs_and_a_commit_is_kept(tmp_path: Path) -> None:
    repo = tmp_path / "hub" / "datasets--org--name"
    for revision, commit in (("main", MAIN), ("v1", TAGGED)):
        (repo / "snapshots" / commit).mkdir(parents=True)
        (repo / "refs").mkdir(exist_ok=True)
        (repo / "refs" / revision).write_text(commit)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "hub")}  # read when imported
    given = "fedcba9876543210fedcba9876543210fedcba98"
    done = subprocess.run([sys.executable, "-c", RESOLVE, given], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    answers = json.loads(done.stdout.splitlines()[-1])
    assert answers == {"None": MAIN, "v1": TAGGED, given: given, "missing": answers["missing"]}
    assert answers["missing"] == "LocalEntryNotFoundError"  # never an empty answer
