"""What every config section shares: its versioned fingerprint and validation errors one line per key."""

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

from alttrain.sections import describe, fingerprint


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
