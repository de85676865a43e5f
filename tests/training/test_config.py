import pytest

from alttrain.config import parse_config
from alttrain.errors import ConfigError
from alttrain.sections import fingerprint
from alttrain.training.config import PRESETS, TrainingConfig

PROMPTS = {"sources": [{"kind": "harmbench"}]}


def test_quick_preset_is_the_default() -> None:
    config = TrainingConfig()
    assert config.preset == "quick"
    for key, value in PRESETS["quick"].items():
        assert getattr(config, key) == value
    assert config.backend == "auto" and config.model == "smollm2-embedded"
    assert (config.lora.r, config.lora.alpha, config.lora.dropout) == (16, 16, 0.0)
    assert config.lora.target_modules == ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    assert config.lr_scheduler == "cosine"


def test_paper_preset_is_the_r1_act_recipe_and_explicit_values_win() -> None:
    config = TrainingConfig(preset="paper", max_length=2048)
    assert config.learning_rate == 1e-5 and config.warmup_steps == 5 and config.max_steps is None
    assert config.max_length == 2048
    assert TrainingConfig(preset="paper").max_length == PRESETS["paper"]["max_length"]


def test_run_config_carries_training_and_its_resolved_form_round_trips() -> None:
    run = parse_config({"prompts": PROMPTS, "training": {"preset": "paper", "batch_size": 8}})
    assert run.training.batch_size == 8 and run.training.learning_rate == 1e-5
    dumped = run.model_dump(mode="json")
    assert parse_config(dumped).training == run.training
    assert fingerprint(parse_config(dumped)) == fingerprint(run)
    assert parse_config({"prompts": PROMPTS}).training == TrainingConfig()


@pytest.mark.parametrize(
    ("training", "message"),
    [
        ({"lr": 1e-4}, "training.lr: unknown key"),
        ({"preset": "fast"}, "training.preset"),
        ({"backend": "deepspeed"}, "training.backend"),
        ({"lora": {"rank": 8}}, "training.lora.rank: unknown key"),
        ({"overlength": "wrap"}, "training.overlength"),
        ({"batch_size": 0}, "training.batch_size"),
    ],
)
def test_bad_training_keys_are_named(training: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config({"prompts": PROMPTS, "training": training})
