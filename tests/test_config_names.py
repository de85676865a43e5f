"""A run name becomes a folder name (``runs/<name>``): it may not be ``.``, ``..`` or start with a dot."""

from __future__ import annotations

import pytest

from alttrain.config import parse_config
from alttrain.errors import ConfigError

SOURCES = {"sources": [{"kind": "harmbench", "n": 5}]}


@pytest.mark.parametrize("name", ["..", ".", ".hidden", "..evil", "../up", "a/b", "", "a b"])
def test_a_name_that_is_not_a_plain_folder_name_is_refused(name: str) -> None:
    with pytest.raises(ConfigError, match="name"):
        parse_config({"name": name, "prompts": SOURCES})


@pytest.mark.parametrize("name", ["run", "ds-template", "paper_v1.2", "v1..2", "a.", "_x", "-x", "7"])
def test_ordinary_names_are_kept(name: str) -> None:
    assert parse_config({"name": name, "prompts": SOURCES}).name == name
