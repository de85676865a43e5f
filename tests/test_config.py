from pathlib import Path

import pytest
import yaml

from alttrain.config import load_config, parse_config, write_resolved
from alttrain.errors import ConfigError
from alttrain.models.source import EMBEDDED_MODEL
from alttrain.sections import fingerprint

MINIMAL = {"name": "t", "prompts": {"sources": [{"kind": "harmbench", "n": 5}]}}


def test_minimal_config_gets_defaults() -> None:
    config = parse_config(MINIMAL)
    assert config.synthesis.teacher.backend == "template"
    assert config.structure.verdict_prefix == "Verdict:"


def test_unknown_key_is_named() -> None:
    with pytest.raises(ConfigError, match=r"synthesis\.teacher\.temprature: unknown key"):
        parse_config({**MINIMAL, "synthesis": {"teacher": {"temprature": 0.3}}})


def test_wrong_type_is_named() -> None:
    with pytest.raises(ConfigError, match=r"synthesis\.teacher\.concurrency: Input should be a valid integer"):
        parse_config({**MINIMAL, "synthesis": {"teacher": {"concurrency": "many"}}})


def test_unknown_source_kind_is_named() -> None:
    with pytest.raises(ConfigError, match=r"prompts\.sources\.0"):
        parse_config({"prompts": {"sources": [{"kind": "nope"}]}})


def test_secret_in_config_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"synthesis\.teacher\.api_key: unknown key"):
        parse_config({**MINIMAL, "synthesis": {"teacher": {"api_key": "sk-secret"}}})


def test_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("prompts: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("42")
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_config(scalar)


def test_resolved_config_round_trips_with_fingerprint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-do-not-leak-1234")
    config = parse_config(MINIMAL)
    path = write_resolved(config, tmp_path)
    text = path.read_text()
    assert "sk-do-not-leak-1234" not in text
    resolved = yaml.safe_load(text)
    assert resolved["fingerprint"] == fingerprint(config)
    again = load_config(path)
    assert fingerprint(again) == fingerprint(config)


@pytest.mark.parametrize("name", ["quickstart.yaml", "paper.yaml", "bilingual.yaml"])
def test_shipped_configs_validate(name: str) -> None:
    config = load_config(Path(__file__).parent.parent / "configs" / name)
    assert config.prompts.sources
    if name == "bilingual.yaml":  # one data_dir for the Chinese sets, the language filter allowing both
        files = [source.path for source in config.prompts.sources if source.kind == "file"]
        assert files and all(str(path).startswith("../shared/benchmarks/") for path in files)
        assert config.datasheet.language == ["en", "zh"]
        assert next(f for f in config.curation.filters if f.kind == "language").allowed == ["en", "zh"]
    if name == "paper.yaml":
        assert config.curation.selection.n == 1000
        assert config.training.preset == "paper" and config.training.learning_rate == 1e-5


def test_the_run_seed_is_resolved_once_into_every_section_that_samples() -> None:
    base = {"prompts": {"sources": [{"kind": "harmbench", "n": 2}]},
            "synthesis": {"probe": {"teacher": {"backend": "template"}}}}
    config = parse_config({**base, "seed": 9})
    assert (config.training.seed, config.curation.selection.seed, config.synthesis.probe.seed) == (9, 9, 9)
    assert config.prompts.seed == 0  # the pool keeps its own seed: changing the run seed keeps the prompts
    explicit = parse_config({**base, "seed": 9, "training": {"seed": 4}})
    assert (explicit.training.seed, explicit.curation.selection.seed) == (4, 9)


def test_evaluation_takes_training_base_model_unless_it_names_its_own(tmp_path: Path) -> None:
    training = {"model": "org/base", "model_cache_dir": str(tmp_path / "models"), "chat_template": "chatml"}
    inherited = parse_config({**MINIMAL, "training": training}).evaluation
    assert (inherited.base_model, inherited.cache_dir, inherited.chat_template) == (
        "org/base", tmp_path / "models", "chatml"
    )
    own = {"base_model": "org/other", "model_cache_dir": str(tmp_path / "eval"), "chat_template": "auto"}
    explicit = parse_config({**MINIMAL, "training": training, "evaluation": own}).evaluation
    assert (explicit.base_model, explicit.cache_dir, explicit.chat_template) == ("org/other", tmp_path / "eval", "auto")
    assert parse_config(MINIMAL).evaluation.base_model == EMBEDDED_MODEL


def test_the_resolved_evaluation_model_is_written_and_read_back(tmp_path: Path) -> None:
    config = parse_config({**MINIMAL, "training": {"model": "org/base"}})
    again = load_config(write_resolved(config, tmp_path))
    assert again.evaluation.base_model == "org/base"
    assert fingerprint(again) == fingerprint(config)
