"""execution.config: ``executor: {kind: ...}`` in synthesis and evaluation, and the old forms read with a note."""

import warnings

import pytest

from alttrain.config import parse_config
from alttrain.errors import ConfigError
from alttrain.evaluation.config import EvaluationConfig
from alttrain.execution.batch.config import BatchSettings
from alttrain.execution.local import LocalSettings
from alttrain.execution.ray import RaySettings
from alttrain.synthesis.config import SynthesisConfig

OPENAI = {"backend": "openai", "model": "gpt-4o-mini", "base_url": "http://127.0.0.1:9/v1"}
ENDPOINT_MODEL = OPENAI  # a model under test reached as the teacher is


def quietly(section: type[SynthesisConfig] | type[EvaluationConfig], data: dict) -> object:
    """The section read from ``data``, failing on any deprecation note."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        return section.model_validate(data)


def test_the_new_form_names_the_executor_once_with_its_options() -> None:
    assert quietly(SynthesisConfig, {}).executor == LocalSettings()
    ray = quietly(SynthesisConfig, {"executor": {"kind": "ray", "actors": 3, "batch_size": 8}}).executor
    assert ray == RaySettings(actors=3, batch_size=8)
    batch = quietly(SynthesisConfig, {"teacher": OPENAI, "executor": {"kind": "batch", "max_rounds": 4}}).executor
    assert batch == BatchSettings(max_rounds=4)
    evaluation = {"models": {"base": ENDPOINT_MODEL}, "executor": {"kind": "ray", "actors": 2}}
    assert quietly(EvaluationConfig, evaluation).executor == RaySettings(actors=2)


@pytest.mark.parametrize(
    ("old", "new", "note"),
    [
        ({"executor": "ray", "ray": {"actors": 4, "gpus_per_actor": 1}},
         RaySettings(actors=4, gpus_per_actor=1), "synthesis.executor: ray is deprecated"),
        ({"executor": "local"}, LocalSettings(), "synthesis.executor: local is deprecated"),
        ({"executor": "local", "ray": {"actors": 4}}, LocalSettings(), "synthesis.executor: local is deprecated"),
        ({"ray": {"actors": 4}}, LocalSettings(), r"synthesis.ray: is deprecated and was unused"),
        ({"teacher": OPENAI, "batch": {"poll_interval_s": 5, "discount": 0.4}},
         BatchSettings(poll_interval_s=5, discount=0.4), "synthesis.batch: is deprecated"),
        ({"teacher": OPENAI, "executor": "local", "batch": {}}, BatchSettings(), "synthesis.batch: is deprecated"),
    ],
)  # fmt: skip
def test_the_old_synthesis_forms_load_as_the_new_one_with_a_note(old: dict, new: object, note: str) -> None:
    with pytest.warns(FutureWarning, match=note) as noted:
        assert SynthesisConfig.model_validate(old).executor == new
    assert all("\n" not in str(warning.message) for warning in noted)  # one line each


def test_the_old_evaluation_form_loads_as_the_new_one_with_a_note() -> None:
    old = {"models": {"base": ENDPOINT_MODEL}, "executor": "ray", "ray": {"actors": 2, "batch_size": 3}}
    with pytest.warns(FutureWarning, match="evaluation.executor: ray is deprecated"):
        assert EvaluationConfig.model_validate(old).executor == RaySettings(actors=2, batch_size=3)


def test_a_run_config_in_the_old_form_is_written_back_in_the_new_one() -> None:
    data = {"name": "old", "prompts": {"sources": [{"kind": "harmbench", "n": 1}]},
            "synthesis": {"executor": "ray", "ray": {"actors": 2}}}  # fmt: skip
    with pytest.warns(FutureWarning):
        config = parse_config(data)
    dumped = config.model_dump(mode="json")["synthesis"]
    assert dumped["executor"]["kind"] == "ray" and dumped["executor"]["actors"] == 2
    assert "ray" not in dumped and "batch" not in dumped
    assert quietly(SynthesisConfig, dumped).executor == config.synthesis.executor  # reads back without a note


@pytest.mark.parametrize(
    ("synthesis", "problem"),
    [
        ({"teacher": OPENAI, "executor": "ray", "batch": {}}, "with batch: set, leave it 'local'"),
        ({"executor": {"kind": "ray"}, "ray": {"actors": 2}}, r"synthesis.ray: is the old form .* executor"),
        ({"executor": {"kind": "batch"}}, "executor batch: needs a teacher backend with a Batch API, not 'template'"),
        ({"executor": {"kind": "cluster"}}, "executor.*'local', 'ray', 'batch'"),
        ({"executor": {"kind": "local", "actors": 2}}, r"executor\.local\.actors"),
    ],
)  # fmt: skip
def test_a_contradicting_or_unknown_executor_is_a_config_error(synthesis: dict, problem: str) -> None:
    data = {"name": "x", "prompts": {"sources": [{"kind": "harmbench", "n": 1}]}, "synthesis": synthesis}
    with pytest.raises(ConfigError, match=problem), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        parse_config(data)


def test_evaluation_takes_only_executors_that_answer_while_it_waits() -> None:
    with pytest.raises(ConfigError, match="executor.*'local', 'ray'"):
        parse_config({"name": "x", "evaluation": {"models": {"base": ENDPOINT_MODEL}, "executor": {"kind": "batch"}}})
    with pytest.raises(ConfigError, match="executor 'ray' runs models whose backend supports Ray"):
        parse_config({"name": "x", "evaluation": {"executor": {"kind": "ray"}}})


def test_a_note_is_one_line_shown_once_however_often_the_config_is_read() -> None:
    old = {"executor": "ray", "ray": {"actors": 2}}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")  # Python's own setting for FutureWarning: once per place and message
        for _ in range(3):
            SynthesisConfig.model_validate(old)
    assert len(caught) == 1 and caught[0].category is FutureWarning
    shown = warnings.formatwarning(caught[0].message, caught[0].category, caught[0].filename, caught[0].lineno)
    assert shown.count("\n") == 1 and "synthesis.executor: ray is deprecated" in shown  # one line, no source
