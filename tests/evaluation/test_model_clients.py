"""Models under test as clients: their client configs, the old ``backend: teacher`` form, distinct identities,
and answers through the client against the fault server (failures kept as row errors)."""

from pathlib import Path

import pytest

from alttrain.config import RunConfig, parse_config
from alttrain.errors import ConfigError
from alttrain.evaluation.model_clients import answer, client_config, distinct_clients, model_sampling
from alttrain.evaluation.run import checkpoints
from alttrain.execution.local import LocalExecutor, LocalSettings
from alttrain.llm.backends.checkpoint import model_identity
from alttrain.llm.backends.vllm_backend import VLLMBackend
from alttrain.llm.cache import ResponseCache
from alttrain.llm.client import TeacherClient, teacher_identity
from alttrain.llm.config import TeacherConfig, VLLMOptions
from alttrain.llm.types import SamplingParams, TeacherRequest
from alttrain.testing import FaultPlan, FaultServer, teacher_config

GREEDY = SamplingParams(temperature=0.0, top_p=1.0, max_tokens=12, seed=0)
ENDPOINT = {"backend": "openai", "model": "fault-teacher", "base_url": "http://127.0.0.1:9/v1", "max_retries": 1}


def config(models: dict, **training) -> RunConfig:
    return parse_config({"name": "models", "prompts": {"sources": [{"kind": "harmbench", "n": 1}]},
                         "training": training, "evaluation": {"models": models, "baseline": next(iter(models))}})


def client(run: RunConfig, name: str, run_dir: Path = Path("run")) -> TeacherConfig:
    return client_config(run.evaluation.models[name], run.evaluation, checkpoints(run), run_dir)


def test_a_checkpoint_model_gets_the_training_model_template_and_generation_settings(tmp_path: Path) -> None:
    run = config({"tuned": {"adapter": "model/adapter", "max_tokens": 64}}, model="some/model",
                 chat_template="deepseek_r1_distill")
    run = run.model_copy(update={"evaluation": run.evaluation.model_copy(update={"batch_size": 4})})
    teacher = client(run, "tuned", tmp_path)
    assert (teacher.backend, teacher.model) == ("transformers", "some/model")
    assert teacher.checkpoint is not None and teacher.checkpoint.adapter == tmp_path / "model" / "adapter"
    assert teacher.checkpoint.chat_template == "deepseek_r1_distill"
    assert teacher.checkpoint.cache_dir == run.training.cache_dir and teacher.transformers.batch_size == 4
    assert model_sampling(run.evaluation.models["tuned"], run.evaluation).max_tokens == 64


def test_a_vllm_model_serves_its_adapter_through_lora_under_the_old_keys(tiny_chat_model: Path, tmp_path: Path) -> None:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = get_peft_model(AutoModelForCausalLM.from_pretrained(str(tiny_chat_model)),
                           LoraConfig(r=32, target_modules=["q_proj"]))
    model.save_pretrained(tmp_path / "model" / "adapter")
    run = config({"tuned": {"backend": "vllm", "adapter": "model/adapter", "vllm": {"enforce_eager": True}}},
                 model=str(tiny_chat_model))
    teacher = client(run, "tuned", tmp_path)
    adapter = tmp_path / "model" / "adapter"
    identity = model_identity(str(tiny_chat_model), str(tiny_chat_model), adapter, "auto", "vllm")
    assert teacher_identity(teacher) == identity and "+adapter@" in identity
    options = VLLMBackend.key_options(teacher)  # the engine's options, LoRA on at the adapter's rank
    assert options == VLLMOptions(enforce_eager=True, enable_lora=True, max_lora_rank=32).model_dump(
        mode="json", exclude={"model_cache_dir"})


def test_an_endpoint_model_is_its_client_config() -> None:
    run = config({"api": ENDPOINT})
    teacher = client(run, "api")
    assert teacher == TeacherConfig.model_validate(ENDPOINT)
    assert teacher.checkpoint is None and teacher_identity(teacher) == "openai:fault-teacher"


def test_the_old_teacher_form_reads_as_the_new_one_with_the_same_keys() -> None:
    old_form = {"backend": "teacher", "teacher": {**ENDPOINT, "sampling": {"temperature": 1.0}}}
    with pytest.warns(FutureWarning, match="'backend: teacher' with a 'teacher' section is deprecated"):
        old = config({"api": old_form})
    new = config({"api": ENDPOINT})
    assert old.evaluation == new.evaluation
    request = TeacherRequest(messages=[{"role": "user", "content": "hi"}], sampling=GREEDY)
    keys = [TeacherClient(client(c, "api"), None).cache_key(request)
            for c in (old, new)]
    assert keys[0] == keys[1]


@pytest.mark.parametrize(("model", "message"), [
    ({"backend": "openai"}, "backend 'openai' needs 'model'"),
    ({**ENDPOINT, "adapter": "model/adapter"}, "backend 'openai' loads no adapter"),
    ({"backend": "template", "model": "t"}, "backend 'template' writes traces from rules"),
    ({"sampling": {"temperature": 1.0}}, "evaluation.models.m.sampling: unknown key"),
])
def test_a_model_reads_only_what_its_backend_takes(model: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config({"m": model})


def test_two_models_with_one_identity_are_refused(tmp_path: Path) -> None:
    run = config({"a": ENDPOINT, "b": {**ENDPOINT, "max_retries": 3}})
    with pytest.raises(ConfigError, match="'a' and 'b' are the same model \\(openai:fault-teacher\\)"):
        distinct_clients(run.evaluation, checkpoints(run), tmp_path)


def test_endpoint_answers_keep_failures_as_row_errors(tmp_path: Path) -> None:
    chats = [[{"role": "user", "content": "What is 2 + 2?"}],
             [{"role": "user", "content": "[[fault:bad_request]] What is 3 + 3?"}]]
    with FaultServer(FaultPlan(reasoning_content="thinking aloud")) as server, \
            ResponseCache(tmp_path / "cache.sqlite") as cache:
        teacher = teacher_config(server.base_url, max_retries=1)
        here = LocalExecutor(LocalSettings(), tmp_path)
        (answered, failed), report = answer(chats, teacher, GREEDY, cache, here)
        again, _ = answer(chats, teacher, GREEDY, cache, here)
        assert server.stats().completions == 3  # the answer came from the cache; the refused request went again
    assert report is None and again[0] == answered
    assert answered["error"] is None and answered["text"].startswith("<think>")
    assert answered["reasoning_content"] == "thinking aloud"
    assert failed["text"] == "" and failed["error"].startswith("PermanentTeacherError: HTTP 400")
