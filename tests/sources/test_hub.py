"""``kind: hub`` through the real ``datasets.load_dataset``, on local folders and an offline Hub."""

import json
import os
import subprocess
import sys
from pathlib import Path

import datasets
import polars as pl
import pytest
from pydantic import ValidationError

from alttrain.config import parse_config
from alttrain.errors import SourceError
from alttrain.hub_revision import recorded_commits
from alttrain.sources.files import FileSource
from alttrain.sources.hub import HubSource
from alttrain.sources.pool import PromptsConfig
from alttrain.sources.stage import run_prompts
from tests.sources.peer_fixtures import SAFECHAIN_JSONL, STAR1_JSON, write


def hub_folder(root: Path, records: list[dict], split: str = "train") -> Path:
    """A folder laid out like a Hub dataset repo: data/<split>-00000-of-00001.parquet."""
    (root / "data").mkdir(parents=True, exist_ok=True)
    pl.DataFrame(records).write_parquet(root / "data" / f"{split}-00000-of-00001.parquet")
    return root


def safechain_records() -> list[dict]:
    return [json.loads(line) for line in SAFECHAIN_JSONL.splitlines()]


def test_hub_folder_loads_like_the_file(tmp_path: Path) -> None:
    folder = hub_folder(tmp_path / "SafeChain", safechain_records())
    hub = HubSource(dataset=str(folder), preset="safechain", cache_dir=tmp_path / "cache")
    file = FileSource(path=write(tmp_path / "safechain.jsonl", SAFECHAIN_JSONL), preset="safechain")
    (hub_frame, hub_report), (file_frame, file_report) = hub.load_with_report(), file.load_with_report()
    assert hub_frame.sort("id").equals(file_frame.sort("id"))
    assert hub_report == file_report
    assert hub.name == "safechain"


def test_load_dataset_gets_name_config_split_revision(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = hub_folder(tmp_path / "ds", safechain_records(), split="test")
    hub_folder(folder, safechain_records()[:1], split="train")
    calls = []
    real = datasets.load_dataset

    def spy(*args, **kwargs):
        calls.append((args, kwargs))
        return real(*args, **kwargs)

    monkeypatch.setattr(datasets, "load_dataset", spy)
    source = HubSource(dataset=str(folder), preset="safechain", split="test", revision="main", cache_dir=tmp_path / "c")
    assert source.load().height == 3
    assert calls == [
        ((str(folder), None), {"split": "test", "revision": "main", "cache_dir": str(tmp_path / "c")}),
    ]


def test_star1_json_array_folder_without_preset_defaults(tmp_path: Path) -> None:
    folder = tmp_path / "STAR-1"
    folder.mkdir()
    write(folder / "STAR-1.json", STAR1_JSON)
    source = HubSource(
        dataset=str(folder),
        columns={"prompt": "question", "response": "response"},
        label="harmful",
        cache_dir=tmp_path / "cache",
    )
    frame, report = source.load_with_report()
    assert frame["original_answer"].to_list()[1].startswith("I won't write fake reviews")
    assert report.traces.split == 2
    assert set(frame["source"]) == {str(folder)}
    assert set(frame["license"]) == {f"unknown (see the {folder} dataset card)"}
    assert set(frame["category"]) == {"user"}


def test_unknown_split_and_save_to_disk_folder(tmp_path: Path) -> None:
    folder = hub_folder(tmp_path / "ds", safechain_records())
    with pytest.raises(SourceError, match=r"split 'validation'\): Unknown split \"validation\""):
        HubSource(dataset=str(folder), preset="safechain", split="validation", cache_dir=tmp_path / "c").load()
    saved = tmp_path / "saved"
    datasets.Dataset.from_list(safechain_records()).save_to_disk(str(saved))
    with pytest.raises(SourceError, match="use kind: file with `path:` for a save_to_disk folder"):
        HubSource(dataset=str(saved), preset="safechain", cache_dir=tmp_path / "c").load()
    assert FileSource(path=saved, preset="safechain").load().height == 3


def test_bad_data_file_in_a_folder(tmp_path: Path) -> None:
    folder = tmp_path / "bad"
    folder.mkdir()
    write(folder / "train.jsonl", b'{"prompt": "a"}\n{"prompt": caf\xe9}\n')
    with pytest.raises(SourceError) as caught:
        HubSource(dataset=str(folder), label="benign", cache_dir=tmp_path / "c").load()
    message = str(caught.value)
    assert message.startswith(f"hub dataset {str(folder)!r} (split 'train'): cannot be loaded: ")
    assert "\n" not in message


def test_dataset_defaults_to_the_presets_hub_id() -> None:
    config = PromptsConfig.model_validate({"sources": [{"kind": "hub", "preset": "star1"}]})
    source = config.sources[0]
    assert isinstance(source, HubSource)
    assert (source.dataset, source.split, source.config, source.revision) == ("UCSC-VLAA/STAR-1", "train", None, None)
    with pytest.raises(ValidationError, match="preset lrm_safety_study has no Hub id"):
        HubSource(preset="lrm_safety_study")
    with pytest.raises(ValidationError, match="kind hub needs `dataset:`"):
        HubSource()


def test_unreachable_hub_is_a_clear_error(tmp_path: Path) -> None:
    code = (
        "from alttrain.errors import SourceError\n"
        "from alttrain.sources.hub import HubSource\n"
        "try:\n"
        "    HubSource(dataset='alttrain-test/no-such-dataset', label='benign').load()\n"
        "except SourceError as error:\n"
        "    print('SourceError:', error)\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    env.pop("HF_DATASETS_CACHE", None)
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if line.startswith("SourceError:")]
    assert len(lines) == 1, done.stdout
    assert lines[0].startswith(
        "SourceError: hub dataset 'alttrain-test/no-such-dataset' (split 'train'): the Hugging Face Hub is "
        "unreachable or offline and no cached copy was found"
    )
    assert "set `dataset:` to that folder" in lines[0]


COMMIT = "0123456789abcdef0123456789abcdef01234567"


def test_the_commit_of_a_hub_snapshot_is_recorded_in_prompts_parquet(tmp_path: Path) -> None:
    """A folder of the Hub cache (``datasets--ORG--NAME/snapshots/<commit>``) stands in for the Hub."""
    snapshot = hub_folder(tmp_path / "hub" / "datasets--org--safechain" / "snapshots" / COMMIT, safechain_records())
    plain = hub_folder(tmp_path / "plain", safechain_records())
    sources = [{"kind": "hub", "dataset": str(folder), "preset": "safechain", "source_name": name,
                "cache_dir": str(tmp_path / "cache")} for folder, name in ((snapshot, "pinned"), (plain, "folder"))]
    result = run_prompts(parse_config({"name": "hub", "prompts": {"sources": sources}}), tmp_path / "run")
    assert [(row.source, row.commit) for row in result.sources] == [("pinned", COMMIT), ("folder", None)]
    assert recorded_commits(result.path) == {"pinned": COMMIT}  # a plain folder has no commit to record
