from pathlib import Path

import pytest
import yaml

from alttrain.errors import PolicyError
from alttrain.policy import DEFAULT_POLICY, load_policy
from alttrain.prompt_sets.builtin import AdvBenchSource, DoNotAnswerSource, HarmBenchSource
from alttrain.sources.files import FileSource
from tests.sources.peer_fixtures import STAR1_JSON, write

STAR1_CATEGORIES = [
    "Self-Harm", "Privacy / Personal Data", "Harassment / Hate / Discrimination", "Intellectual Property",
    "Misinformation / Disinformation", "Violence / Physical Harm", "Illicit / Criminal Behavior", "Sexual / Adult",
]  # fmt: skip


def edited(tmp_path: Path, change) -> Path:
    """The default policy with ``change`` applied to its YAML data, written to a new file."""
    data = yaml.safe_load(DEFAULT_POLICY.read_text(encoding="utf-8"))
    change(data)
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_the_default_policy_loads_with_the_modes_the_issue_asks_for() -> None:
    policy = load_policy()
    assert policy.resolve("Self-Harm", "harmful").mode == "safe_complete"
    assert policy.categories["specialized_advice"].mode == "safe_complete"
    assert policy.resolve("Privacy / Personal Data", "harmful").name == "privacy"
    assert any("public-information alternative" in item for item in policy.categories["privacy"].must)
    assert any("help now" in item for item in policy.categories["self_harm"].must)


def test_rows_resolve_by_label_and_category() -> None:
    policy = load_policy()
    benign = policy.resolve("Self-Harm", "benign")
    assert (benign.name, benign.mode, benign.mapped) == ("benign", "comply", True)
    unknown = policy.resolve("something a user made up", "harmful")
    assert (unknown.name, unknown.mode, unknown.mapped) == ("general_harm", "refuse", False)
    assert policy.resolve("  self-harm ", "harmful").name == "self_harm"  # case and spaces do not matter


def test_every_star1_category_of_the_fixture_and_the_release_maps(tmp_path: Path) -> None:
    policy = load_policy()
    frame = FileSource(path=write(tmp_path / "STAR-1.json", STAR1_JSON), preset="star1").load()
    listed = [category for categories in frame["categories"].to_list() for category in categories]
    assert listed and policy.unmapped(listed) == []
    assert policy.unmapped(STAR1_CATEGORIES) == []  # all eight of the real release's categories


def test_the_shipped_prompt_sets_map_with_harmbench_mostly_refused() -> None:
    policy = load_policy()
    for source in (HarmBenchSource(), DoNotAnswerSource(), AdvBenchSource()):
        categories = source.load()["category"].unique().to_list()
        assert policy.unmapped(categories) == [], type(source).__name__
    assert policy.resolve("harmbench_standard", "harmful").mode == "refuse"


def test_an_unknown_mode_is_a_clear_error(tmp_path: Path) -> None:
    path = edited(tmp_path, lambda d: d["categories"]["privacy"].update(mode="lecture"))
    with pytest.raises(PolicyError, match=r"policy\.yaml: categories\.privacy\.mode: Input should be 'refuse'"):
        load_policy(path)


def test_a_mapping_onto_no_category_is_a_clear_error(tmp_path: Path) -> None:
    path = edited(tmp_path, lambda d: d["mappings"]["star1"].update({"Self-Harm": "selfharm"}))
    with pytest.raises(PolicyError, match=r"policy\.yaml: mappings\.star1\.Self-Harm: 'selfharm' is not one of the"):
        load_policy(path)


def test_a_name_mapped_two_ways_is_a_clear_error(tmp_path: Path) -> None:
    path = edited(tmp_path, lambda d: d["mappings"].update(mine={"self-harm": "privacy"}))
    with pytest.raises(PolicyError, match=r"policy\.yaml: mappings\.star1\.Self-Harm: maps to 'self_harm', but "
                       r"mappings\.mine maps it to 'privacy'"):  # fmt: skip
        load_policy(path)


def test_benign_rows_must_comply_and_the_file_must_exist(tmp_path: Path) -> None:
    path = edited(tmp_path, lambda d: d["categories"]["benign"].update(mode="refuse"))
    with pytest.raises(PolicyError, match="benign: category 'benign' has mode 'refuse', not comply"):
        load_policy(path)
    with pytest.raises(PolicyError, match="policy file not found"):
        load_policy(tmp_path / "missing.yaml")
