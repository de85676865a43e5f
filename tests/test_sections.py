"""What every config section shares: its versioned fingerprint and validation errors one line per key."""

from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

from alttrain.errors import ConfigError
from alttrain.sections import describe, fingerprint, read_yaml


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")

    size: int = 1
    name: str = "a"


def test_fingerprint_is_versioned_and_follows_the_values() -> None:
    assert fingerprint(Section()).startswith("v1-")
    assert fingerprint(Section()) == fingerprint(Section(size=1))
    assert fingerprint(Section(size=2)) != fingerprint(Section())


def test_describe_names_each_bad_key_on_its_own_line() -> None:
    with pytest.raises(ValidationError) as raised:
        Section.model_validate({"size": "many", "colour": "red"})
    lines = describe(raised.value, "run.yaml").splitlines()
    assert lines == ["run.yaml: size: Input should be a valid integer, unable to parse string as an integer",
                     "run.yaml: colour: unknown key"]


def test_read_yaml_names_the_file_when_it_is_missing_a_folder_or_not_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nothing\.yaml: config file not found"):
        read_yaml(tmp_path / "nothing.yaml", ConfigError, "config file")
    with pytest.raises(ConfigError, match="config file not found"):  # a folder is no file
        read_yaml(tmp_path, ConfigError, "config file")
    broken = tmp_path / "broken.yaml"
    broken.write_text("a: [1, 2\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"broken\.yaml: not valid YAML"):
        read_yaml(broken, ConfigError, "config file")
    broken.write_text("a: [1, 2]\nb: 名字\n", encoding="utf-8")
    assert read_yaml(broken, ConfigError, "config file") == {"a": [1, 2], "b": "名字"}
