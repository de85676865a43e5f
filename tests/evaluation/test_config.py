from pathlib import Path

import pytest

from alttrain.config import parse_config
from alttrain.errors import ConfigError
from alttrain.evaluation.config import EvaluationConfig
from alttrain.evaluation.run import check_eval_seeds

POOL = {"sources": [{"kind": "harmbench", "n": 4}, {"kind": "reasoning_gym", "size": 4, "seed": 5}]}


def test_defaults_compare_base_with_the_trained_adapter_greedily() -> None:
    config = EvaluationConfig()
    assert list(config.models) == ["base", "tuned"] and config.baseline == "base"
    assert config.models["base"].adapter is None and config.models["tuned"].adapter == Path("model/adapter")
    assert [b.name for b in config.benchmarks] == ["harmbench", "donotanswer", "advbench", "reasoning_gym/gsm_symbolic"]
    assert all(b.n == 50 for b in config.benchmarks)
    assert config.sampling.temperature == 0.0
    assert parse_config({"prompts": POOL}).evaluation == config


@pytest.mark.parametrize(("evaluation", "message"), [
    ({"baseline": "nope"}, "baseline 'nope' is not one of the models"),
    ({"benchmarks": [{"kind": "harmbench"}, {"kind": "harmbench", "n": 3}]}, "benchmarks listed twice: ['harmbench']"),
    ({"models": {"api": {"backend": "teacher"}}, "baseline": "api"}, "backend 'teacher' needs a 'teacher' section"),
    ({"models": {"t": {"backend": "teacher", "teacher": {"backend": "template"}}}, "baseline": "t"},
     "no model to test"),
    ({"models": {"base": {"teacher": {"backend": "openai"}}}}, "'teacher' is only read with backend 'teacher'"),
    ({"judges": {"strongreject": {"teacher": {"backend": "template"}}}}, "a judge needs a model"),
    ({"models": {"base": {"adaptor": "x"}}}, "evaluation.models.base.adaptor: unknown key"),
    ({"benchmarks": [{"kind": "mmlu"}]}, "evaluation.benchmarks.0"),
])
def test_bad_evaluation_configs_name_the_problem(evaluation: dict, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_config({"prompts": POOL, "evaluation": evaluation})
    assert message in str(error.value)


def test_reasoning_gym_benchmark_seeded_like_training_is_refused() -> None:
    config = parse_config({"prompts": POOL, "evaluation": {"benchmarks": [{"kind": "reasoning_gym", "seed": 5}]}})
    with pytest.raises(ConfigError, match="uses seed 5, the seed a training prompt source generates"):
        check_eval_seeds(config)
    check_eval_seeds(parse_config({"prompts": POOL}))


def test_the_paper_eval_config_loads_with_three_vllm_models_safety_sets_and_both_judges() -> None:
    from alttrain.config import load_config

    path = Path(__file__).resolve().parents[2] / "configs" / "eval-paper.yaml"
    evaluation = load_config(path).evaluation
    assert list(evaluation.models) == ["base", "tuned", "star1"] and evaluation.baseline == "base"
    assert {model.backend for model in evaluation.models.values()} == {"vllm"}
    assert [m.adapter for m in evaluation.models.values()] == [None, Path("model/adapter"),
                                                               Path("../star1/model/adapter")]
    assert evaluation.base_model == "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B"
    assert [b.name for b in evaluation.benchmarks] == [
        "strongreject", "xstest", "jailbreakbench", "wildjailbreak", "harmbench", "advbench", "donotanswer",
        "gsm8k", "math500", "aime24", "mgsm_en", "mgsm_zh", "nq_open", "summarization", "cmmlu"]
    assert evaluation.judges.strongreject is not None and evaluation.judges.guard is not None
