"""The GPU-side configs: the ``paper`` preset against R1-Act's released training script (R1-Act_training_code.py,
run_sft.sh), and configs/quickstart-vllm-unsloth.yaml against the quickstart it copies."""

from pathlib import Path

from alttrain.config import load_config
from alttrain.training.config import PAPER_DIFFERENCES, TrainingConfig

CONFIGS = Path(__file__).parents[2] / "configs"


def test_paper_preset_is_the_released_r1_act_recipe() -> None:
    config = TrainingConfig(preset="paper")
    assert (config.epochs, config.batch_size, config.grad_accum, config.max_steps) == (15.0, 8, 1, None)
    assert (config.learning_rate, config.lr_scheduler, config.warmup_steps, config.weight_decay) == (
        1e-5, "cosine", 5, 1e-4)
    assert (config.lora.r, config.lora.alpha, config.lora.dropout, len(config.lora.target_modules)) == (16, 16, 0.0, 7)
    assert config.optimizer == "auto"  # adamw_8bit on a CUDA GPU (sft.choose_optimizer), as the script


def test_the_paper_config_trains_with_the_scripts_seed_and_names_every_difference() -> None:
    config = load_config(CONFIGS / "paper.yaml")
    assert config.training.seed == 1995 and config.training.preset == "paper"
    assert set(PAPER_DIFFERENCES) == {"max_length", "adam_betas", "optimizer", "seed", "model"}


def test_the_vllm_unsloth_quickstart_differs_from_the_quickstart_only_in_its_engines() -> None:
    quickstart = load_config(CONFIGS / "quickstart.yaml").model_dump(mode="json")
    heavy = load_config(CONFIGS / "quickstart-vllm-unsloth.yaml").model_dump(mode="json")
    probe = heavy["synthesis"].pop("probe")
    assert probe["teacher"]["backend"] == "vllm" and probe["teacher"]["vllm"]["enforce_eager"]
    assert (heavy["training"].pop("backend"), heavy["training"].pop("load_in_4bit")) == ("unsloth", False)
    assert heavy.pop("name") == "quickstart-vllm-unsloth"
    quickstart.pop("name")
    quickstart["synthesis"].pop("probe")
    for key in ("backend", "load_in_4bit"):
        quickstart["training"].pop(key)
    assert heavy == quickstart
