from pathlib import Path

import pytest
from pydantic import ValidationError

from alttrain.config import parse_config
from alttrain.datasheets.config import DatasheetConfig
from alttrain.datasheets.hub import push_dataset
from alttrain.errors import ConfigError, DatasheetError

MINIMAL = {"prompts": {"sources": [{"kind": "harmbench", "n": 2}]}}


def test_datasheet_section_defaults_push_nothing() -> None:
    sheet = parse_config(MINIMAL).datasheet
    assert sheet.push_to_hub is False and sheet.hub_repo_id is None
    assert not sheet.priced


def test_unknown_and_token_keys_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"datasheet\.hub_token: unknown key"):
        parse_config({**MINIMAL, "datasheet": {"hub_token": "hf_secret"}})
    with pytest.raises(ConfigError, match=r"datasheet\.price_per_million_input_tokens"):
        parse_config({**MINIMAL, "datasheet": {"price_per_million_input_tokens": -1}})


def test_push_needs_a_repo_id() -> None:
    with pytest.raises(ValidationError, match="push_to_hub needs hub_repo_id"):
        DatasheetConfig(push_to_hub=True)


def test_push_is_refused_unless_enabled(tmp_path: Path) -> None:
    with pytest.raises(DatasheetError, match="needs datasheet.push_to_hub: true"):
        push_dataset(tmp_path / "hf", tmp_path, DatasheetConfig(hub_repo_id="me/data"))


def test_push_without_a_token_fails_before_any_network(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ALTTRAIN_DS_NO_TOKEN", raising=False)
    sheet = DatasheetConfig(push_to_hub=True, hub_repo_id="me/data", hub_token_env="ALTTRAIN_DS_NO_TOKEN")
    with pytest.raises(DatasheetError, match=r"\$ALTTRAIN_DS_NO_TOKEN is empty"):
        push_dataset(tmp_path / "hf", tmp_path, sheet)
