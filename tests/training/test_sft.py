import torch

from alttrain.training.config import TrainingConfig
from alttrain.training.sft import LossCurve, TokenCounter, choose_optimizer


def test_token_counter_counts_trained_and_input_tokens_with_or_without_padding() -> None:
    counter = TokenCounter()
    counter.count({"input_ids": torch.tensor([[5, 6, 7, 0]]), "attention_mask": torch.tensor([[1, 1, 1, 0]]),
                   "labels": torch.tensor([[-100, 6, 7, -100]])})
    counter.count({"input_ids": torch.tensor([[5, 6, 7, 8, 9]]), "labels": torch.tensor([[-100, -100, 7, 8, 9]])})
    assert (counter.trained_tokens, counter.input_tokens) == (2 + 3, 3 + 5)


def test_loss_curve_keeps_training_losses_and_ignores_other_events() -> None:
    class State:
        global_step = 4
        max_steps = 10

    curve = LossCurve(TokenCounter())
    curve.on_log(None, State(), None, logs={"loss": 1.5, "learning_rate": 0.1})
    curve.on_log(None, State(), None, logs={"train_runtime": 3.0})
    assert curve.on_step_end(None, State(), None) is None
    assert curve.on_train_begin(None, State(), None) is None  # every other event is a no-op
    assert curve.points == [{"step": 4, "loss": 1.5}]


def test_loss_curve_reports_each_step_to_the_progress() -> None:
    class State:
        global_step = 2
        max_steps = 8

    reports = []
    counter = TokenCounter(trained_tokens=10, input_tokens=40)
    curve = LossCurve(counter, lambda *report: reports.append(report))
    curve.on_step_end(None, State(), None)
    curve.on_log(None, State(), None, logs={"loss": 0.75})
    curve.on_step_end(None, State(), None)
    assert reports == [(2, 8, None, 40), (2, 8, 0.75, 40), (2, 8, 0.75, 40)]


def test_optimizer_is_plain_adamw_on_cpu_unless_set() -> None:
    assert choose_optimizer(TrainingConfig(), "cpu") == "adamw_torch"
    assert choose_optimizer(TrainingConfig(optimizer="adamw_8bit"), "cpu") == "adamw_8bit"
