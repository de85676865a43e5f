from __future__ import annotations

import pytest

from alttrain.config import parse_config
from alttrain.curation.config import CurationConfig
from alttrain.errors import ConfigError

PROMPTS = {"sources": [{"kind": "harmbench", "n": 2}]}


def test_filters_run_in_the_configured_order_with_their_settings() -> None:
    config = parse_config({"prompts": PROMPTS, "curation": {"filters": [
        {"kind": "language", "allowed": ["en", "de"]},
        {"kind": "length", "max": {"answer": 10}},
        {"kind": "structure"},
    ]}})
    filters = config.curation.filters
    assert [f.name for f in filters] == ["language", "length", "structure"]
    assert filters[0].allowed == ["en", "de"] and filters[1].max == {"answer": 10}


def test_the_default_order_has_no_judge() -> None:
    names = [f.name for f in CurationConfig().filters]
    assert names == ["structure", "verdict", "refusal", "mode", "answer", "length", "reduction", "language"]


@pytest.mark.parametrize(
    ("curation", "message"),
    [
        ({"filters": [{"kind": "spelling"}]}, "curation.filters.0"),
        ({"filters": [{"kind": "verdict"}, {"kind": "verdict"}]}, "repeated: ['verdict']"),
        ({"filters": [{"kind": "length", "max": {"thoughts": 3}}]}, "curation.filters.0.length.max.thoughts"),
        ({"selection": {"n": 0}}, "curation.selection.n"),
        ({"tokenizer": {"kind": "hf"}}, "needs tokenizer.path"),
        ({"dedup": {"threshold": 1.5}}, "curation.dedup.threshold"),
        ({"filters": [{"kind": "language", "allowed": ["zz"]}]}, "unknown ISO 639-1 language code 'zz'"),
    ],
)
def test_bad_settings_name_the_key(curation: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_config({"prompts": PROMPTS, "curation": curation})
